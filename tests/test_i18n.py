"""Translations: the pages and notices follow the active language, and the catalogs are whole.

Pages are fetched the way a site serves them, with Django's LocaleMiddleware choosing the
language from the browser's ``Accept-Language``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

import polib
import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import translation

from django_totp import services
from django_totp.models import TOTPDevice

from .conftest import PASSWORD

PACKAGE = Path(__file__).resolve().parent.parent / "django_totp"
LANGUAGES = ("de", "es", "fr", "it", "ja", "nl", "pl", "pt_BR")
# gettext's rule for each language: French and Brazilian Portuguese use the singular for 0 too,
# Polish has a form for 2-4 (but not 12-14), Japanese has one form.
PLURAL_FORMS = {
    "de": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=2; plural=(n != 1);",
    "fr": "nplurals=2; plural=(n > 1);",
    "it": "nplurals=2; plural=(n != 1);",
    "ja": "nplurals=1; plural=0;",
    "nl": "nplurals=2; plural=(n != 1);",
    "pl": "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "pt_BR": "nplurals=2; plural=(n > 1);",
}
LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"

on_sqlite_pass_only = pytest.mark.skipif(
    os.environ.get("TOTP_TEST_DB") == "postgres",
    reason="reads files, not the database: runs in the SQLite pass only",
)


@pytest.fixture(autouse=True)
def keep_language():
    """LocaleMiddleware activates the browser's language and leaves it on: undo that."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def locale_middleware(settings):
    middleware = list(settings.MIDDLEWARE)
    # Django's documented place: after sessions, before CommonMiddleware.
    middleware.insert(
        middleware.index("django.middleware.common.CommonMiddleware"), LOCALE_MIDDLEWARE
    )
    settings.MIDDLEWARE = middleware


def get(client: Client, url: str, language: str) -> str:
    """The page unescaped: the phrases are written as a reader sees them (d'un, not d&#x27;un)."""
    code = translation.to_language(language)  # pt_BR (the catalog's folder) is pt-br
    response = client.get(url, headers={"accept-language": code})
    assert response.status_code == 200, response
    assert response["Content-Language"] == code
    page = response.content.decode()
    assert f'<html lang="{code}">' in page
    return unescape(page)


PAGES = {
    "verify": {
        "de": [
            "<title>Geben Sie Ihren Authentifizierungscode ein</title>",
            "Öffnen Sie die Authenticator-App auf Ihrem Smartphone und geben Sie den aktuellen "
            "Code für alice ein.",
            "Authentifizierungscode",
            'value="Bestätigen"',
            "Smartphone verloren? Verwenden Sie stattdessen einen Wiederherstellungscode",
            "Abbrechen und abmelden",
        ],
        "es": [
            "<title>Introduzca su código de autenticación</title>",
            "Abra la aplicación de autenticación en su teléfono e introduzca el código actual "
            "de alice.",
            "Código de autenticación",
            'value="Verificar"',
            "¿Ha perdido su teléfono? Use en su lugar un código de recuperación",
            "Cancelar y cerrar sesión",
        ],
        "fr": [
            "<title>Saisissez votre code d'authentification</title>",
            "Ouvrez l'application d'authentification sur votre téléphone et saisissez le code "
            "actuel pour alice.",
            "Code d'authentification",
            'value="Vérifier"',
            "Téléphone perdu\xa0? Utilisez plutôt un code de récupération",
            "Annuler et se déconnecter",
        ],
        "it": [
            "<title>Inserisca il codice di autenticazione</title>",
            "Apra l'app di autenticazione sul telefono e inserisca il codice attuale per alice.",
            "Codice di autenticazione",
            'value="Verifica"',
            "Ha perso il telefono? Usi invece un codice di recupero",
            "Annulla ed esci",
        ],
        "ja": [
            "<title>認証コードを入力してください</title>",
            "スマートフォンで認証アプリを開き、aliceの現在のコードを入力してください。",
            "認証コード",
            'value="確認"',
            "スマートフォンを紛失した場合は、代わりにリカバリーコードを使用してください",
            "キャンセルしてログアウト",
        ],
        "nl": [
            "<title>Voer uw authenticatiecode in</title>",
            "Open de authenticator-app op uw telefoon en voer de huidige code voor alice in.",
            "Authenticatiecode",
            'value="Verifiëren"',
            "Telefoon kwijt? Gebruik in plaats daarvan een herstelcode",
            "Annuleren en uitloggen",
        ],
        "pl": [
            "<title>Wpisz kod uwierzytelniający</title>",
            "Otwórz aplikację uwierzytelniającą na telefonie i wpisz aktualny kod dla alice.",
            "Kod uwierzytelniający",
            'value="Zweryfikuj"',
            "Zgubiony telefon? Użyj zamiast tego kodu odzyskiwania",
            "Anuluj i wyloguj się",
        ],
        "pt_BR": [
            "<title>Digite seu código de autenticação</title>",
            "Abra o aplicativo autenticador no seu celular e digite o código atual de alice.",
            "Código de autenticação",
            'value="Verificar"',
            "Perdeu o celular? Use um código de recuperação em vez disso",
            "Cancelar e sair",
        ],
    },
    "recovery": {
        "de": [
            "<title>Wiederherstellungscode verwenden</title>",
            "Geben Sie einen der Wiederherstellungscodes ein, die Sie beim Einrichten der "
            "Zwei-Faktor-Authentifizierung gespeichert haben.",
            "Stattdessen einen Code aus Ihrer App verwenden",
        ],
        "es": [
            "<title>Usar un código de recuperación</title>",
            "Introduzca uno de los códigos de recuperación que guardó al configurar la "
            "autenticación de dos factores.",
            "Usar en su lugar un código de su aplicación",
        ],
        "fr": [
            "<title>Utiliser un code de récupération</title>",
            "Saisissez l'un des codes de récupération que vous avez enregistrés lors de la "
            "configuration de l'authentification à deux facteurs.",
            "Utiliser plutôt un code de votre application",
        ],
        "it": [
            "<title>Usa un codice di recupero</title>",
            "Inserisca uno dei codici di recupero che ha salvato quando ha configurato "
            "l'autenticazione a due fattori.",
            "Usa invece un codice dell'app",
        ],
        "ja": [
            "<title>リカバリーコードを使用</title>",
            "二要素認証の設定時に保存したリカバリーコードのいずれかを入力してください。",
            "代わりにアプリのコードを使用",
        ],
        "nl": [
            "<title>Herstelcode gebruiken</title>",
            "Voer een van de herstelcodes in die u hebt bewaard toen u tweefactorauthenticatie "
            "instelde.",
            "In plaats daarvan een code uit uw app gebruiken",
        ],
        "pl": [
            "<title>Użyj kodu odzyskiwania</title>",
            "Wpisz jeden z kodów odzyskiwania zapisanych podczas konfiguracji uwierzytelniania "
            "dwuskładnikowego.",
            "Użyj zamiast tego kodu z aplikacji",
        ],
        "pt_BR": [
            "<title>Usar um código de recuperação</title>",
            "Digite um dos códigos de recuperação que você salvou ao configurar a autenticação "
            "de dois fatores.",
            "Usar um código do seu aplicativo em vez disso",
        ],
    },
    "manage": {
        "de": [
            "<title>Zwei-Faktor-Authentifizierung</title>",
            "Authenticator-Apps",
            "Durch ein neues Smartphone ersetzen",
            "Sie haben 10 unbenutzte Wiederherstellungscodes.",
            "Neue Wiederherstellungscodes erstellen",
            "Zwei-Faktor-Authentifizierung deaktivieren",
        ],
        "es": [
            "<title>Autenticación de dos factores</title>",
            "Aplicaciones de autenticación",
            "Sustituir por un teléfono nuevo",
            "Tiene 10 códigos de recuperación sin usar.",
            "Generar nuevos códigos de recuperación",
            "Desactivar la autenticación de dos factores",
        ],
        "fr": [
            "<title>Authentification à deux facteurs</title>",
            "Applications d'authentification",
            "Remplacer par un nouveau téléphone",
            "Vous avez 10 codes de récupération inutilisés.",
            "Générer de nouveaux codes de récupération",
            "Désactiver l'authentification à deux facteurs",
        ],
        "it": [
            "<title>Autenticazione a due fattori</title>",
            "App di autenticazione",
            "Sostituisci con un nuovo telefono",
            "Ha 10 codici di recupero inutilizzati.",
            "Genera nuovi codici di recupero",
            "Disattiva l'autenticazione a due fattori",
        ],
        "ja": [
            "<title>二要素認証</title>",
            "認証アプリ",
            "新しいスマートフォンに置き換え",
            "未使用のリカバリーコードが10個あります。",
            "新しいリカバリーコードを生成",
            "二要素認証を無効にする",
        ],
        "nl": [
            "<title>Tweefactorauthenticatie</title>",
            "Authenticator-apps",
            "Vervangen door een nieuwe telefoon",
            "U hebt 10 ongebruikte herstelcodes.",
            "Nieuwe herstelcodes maken",
            "Tweefactorauthenticatie uitschakelen",
        ],
        "pl": [
            "<title>Uwierzytelnianie dwuskładnikowe</title>",
            "Aplikacje uwierzytelniające",
            "Przenieś na nowy telefon",
            "Masz 10 nieużytych kodów odzyskiwania.",
            "Wygeneruj nowe kody odzyskiwania",
            "Wyłącz uwierzytelnianie dwuskładnikowe",
        ],
        "pt_BR": [
            "<title>Autenticação de dois fatores</title>",
            "Aplicativos autenticadores",
            "Substituir por um novo celular",
            "Você tem 10 códigos de recuperação não utilizados.",
            "Gerar novos códigos de recuperação",
            "Desativar a autenticação de dois fatores",
        ],
    },
    "setup": {
        "de": [
            "<title>Zwei-Faktor-Authentifizierung einrichten</title>",
            "Zusätzlich zu Ihrem Passwort geben Sie bei jeder Anmeldung einen 6-stelligen Code "
            "aus einer Authenticator-App ein.",
            ">Weiter</button>",
        ],
        "es": [
            "<title>Configurar la autenticación de dos factores</title>",
            "Además de su contraseña, cada vez que inicie sesión introducirá un código de 6 "
            "dígitos de una aplicación de autenticación.",
            ">Continuar</button>",
        ],
        "fr": [
            "<title>Configurer l'authentification à deux facteurs</title>",
            "En plus de votre mot de passe, vous saisirez à chaque connexion un code à 6 "
            "chiffres provenant d'une application d'authentification.",
            ">Continuer</button>",
        ],
        "it": [
            "<title>Configura l'autenticazione a due fattori</title>",
            "Oltre alla password, a ogni accesso dovrà digitare un codice di 6 cifre generato da "
            "un'app di autenticazione.",
            ">Continua</button>",
        ],
        "ja": [
            "<title>二要素認証を設定</title>",
            "ログインするたびに、パスワードに加えて認証アプリの6桁のコードを入力します。",
            ">続行</button>",
        ],
        "nl": [
            "<title>Tweefactorauthenticatie instellen</title>",
            "Naast uw wachtwoord voert u bij elke keer inloggen een code van 6 cijfers uit een "
            "authenticator-app in.",
            ">Doorgaan</button>",
        ],
        "pl": [
            "<title>Skonfiguruj uwierzytelnianie dwuskładnikowe</title>",
            "Oprócz hasła przy każdym logowaniu wpiszesz 6-cyfrowy kod z aplikacji "
            "uwierzytelniającej.",
            ">Dalej</button>",
        ],
        "pt_BR": [
            "<title>Configurar a autenticação de dois fatores</title>",
            "Além da sua senha, você digitará um código de 6 dígitos de um aplicativo "
            "autenticador sempre que entrar.",
            ">Continuar</button>",
        ],
    },
}


@pytest.mark.django_db
@pytest.mark.usefixtures("locale_middleware")
@pytest.mark.parametrize("language", LANGUAGES)
class TestPagesFollowTheBrowsersLanguage:
    def test_verify_page(self, password_client, device, language):
        html = get(password_client, "/2fa/verify/", language)
        for phrase in PAGES["verify"][language]:
            assert phrase in html

    def test_recovery_page(self, password_client, device, language):
        html = get(password_client, "/2fa/verify/recovery/", language)
        for phrase in PAGES["recovery"][language]:
            assert phrase in html

    def test_manage_page(self, verified_client, recovery_codes, language):
        html = get(verified_client, "/2fa/manage/", language)
        for phrase in PAGES["manage"][language]:
            assert phrase in html

    def test_setup_start_page(self, password_client, language):
        html = get(password_client, "/2fa/setup/", language)
        for phrase in PAGES["setup"][language]:
            assert phrase in html

    def test_a_wrong_code_is_refused_in_the_browsers_language(
        self, password_client, device, code_for, language
    ):
        near = {code_for(device, offset=offset) for offset in range(-2, 3)}
        wrong = next(code for code in ("000000", "123456", "999999") if code not in near)
        response = password_client.post(
            "/2fa/verify/",
            {"code": wrong},
            headers={"accept-language": translation.to_language(language)},
        )
        expected = {
            "de": "Dieser Code ist nicht richtig. Geben Sie den Code ein, den Ihre App jetzt "
            "anzeigt.",
            "es": "Ese código no es correcto. Introduzca el código que muestra ahora su "
            "aplicación.",
            "fr": "Ce code est incorrect. Saisissez le code que votre application affiche "
            "maintenant.",
            "it": "Il codice non è corretto. Inserisca il codice che la sua app mostra adesso.",
            "ja": "コードが正しくありません。アプリに現在表示されているコードを入力してください。",
            "nl": "Die code klopt niet. Voer de code in die uw app nu toont.",
            "pl": "Ten kod jest nieprawidłowy. Wpisz kod, który aplikacja wyświetla teraz.",
            "pt_BR": "Esse código não está correto. Digite o código que seu aplicativo mostra "
            "agora.",
        }
        assert expected[language] in unescape(response.content.decode())

    def test_the_step_up_message_is_in_the_language_of_the_request(
        self, verified_client, device, language
    ):
        # A class attribute: translated when shown, not once when the module was imported.
        with time_machine.travel(time.time() + 301):
            response = verified_client.get(
                "/2fa/manage/", headers={"accept-language": translation.to_language(language)}
            )
            assert response.status_code == 302
            html = get(verified_client, response["Location"], language)
        expected = {
            "de": "Geben Sie einen Code aus Ihrer App ein, um zu bestätigen, dass Sie es sind.",
            "es": "Introduzca un código de su aplicación para confirmar que es usted.",
            "fr": "Saisissez un code de votre application pour confirmer qu'il s'agit bien de "
            "vous.",
            "it": "Inserisca un codice della sua app per confermare la sua identità.",
            "ja": "本人確認のため、アプリに表示されたコードを入力してください。",
            "nl": "Voer een code uit uw app in om te bevestigen dat u het bent.",
            "pl": "Wpisz kod z aplikacji, aby potwierdzić, że to Ty.",
            "pt_BR": "Digite um código do seu aplicativo para confirmar que é você.",
        }
        assert expected[language] in html

    def test_the_json_refusal_is_in_the_browsers_language(self, password_client, device, language):
        response = password_client.get(
            "/private/",
            headers={
                "accept": "application/json",
                "accept-language": translation.to_language(language),
            },
        )
        assert response.status_code == 403
        expected = {
            "de": "Bestätigung mit der Zwei-Faktor-Authentifizierung erforderlich.",
            "es": "Se requiere la verificación de la autenticación de dos factores.",
            "fr": "Vérification à deux facteurs requise.",
            "it": "Verifica a due fattori richiesta.",
            "ja": "二要素認証による確認が必要です。",
            "nl": "Tweefactorverificatie vereist.",
            "pl": "Wymagana weryfikacja dwuskładnikowa.",
            "pt_BR": "Verificação de dois fatores obrigatória.",
        }
        assert response.json()["detail"] == expected[language]


@pytest.mark.django_db
def test_without_a_language_preference_the_pages_stay_english(locale_middleware, client, user):
    assert client.login(username=user.get_username(), password=PASSWORD)
    html = client.get("/2fa/setup/").content.decode()
    assert "<title>Set up two-factor authentication</title>" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "de",
            "Test Site: Ihre Zwei-Faktor-Authentifizierung wurde zurückgesetzt",
            [
                "Hallo alice,",
                "Ein Administrator hat die Zwei-Faktor-Authentifizierung Ihres Kontos "
                "zurückgesetzt: Die Authenticator-Apps, die Sie eingerichtet hatten, "
                "funktionieren nicht mehr.",
                "Zeitpunkt:",
            ],
        ),
        (
            "es",
            "Test Site: Se ha restablecido su autenticación de dos factores",
            [
                "Hola, alice:",
                "Un administrador ha restablecido la autenticación de dos factores de su cuenta",
                "Fecha y hora:",
            ],
        ),
        (
            "fr",
            "Test Site: Votre authentification à deux facteurs a été réinitialisée",
            [
                "Bonjour alice,",
                "Un administrateur a réinitialisé l'authentification à deux facteurs de votre "
                "compte\xa0: les applications d'authentification que vous aviez configurées ne "
                "fonctionnent plus.",
                "Date\xa0:",
            ],
        ),
        (
            "it",
            "Test Site: La sua autenticazione a due fattori è stata reimpostata",
            [
                "Gentile alice,",
                "Un amministratore ha reimpostato l'autenticazione a due fattori del suo "
                "account: le app di autenticazione che aveva configurato non funzionano più.",
                "Quando:",
            ],
        ),
        (
            "ja",
            "Test Site: 二要素認証がリセットされました",
            ["alice 様", "管理者がアカウントの二要素認証をリセットしました。", "日時："],
        ),
        (
            "nl",
            "Test Site: Uw tweefactorauthenticatie is gereset",
            [
                "Beste alice,",
                "Een beheerder heeft de tweefactorauthenticatie van uw account gereset: de "
                "authenticator-apps die u had ingesteld, werken niet meer.",
                "Wanneer:",
            ],
        ),
        (
            "pl",
            "Test Site: Twoje uwierzytelnianie dwuskładnikowe zostało zresetowane",
            [
                "Dzień dobry, alice!",
                "Administrator zresetował uwierzytelnianie dwuskładnikowe na Twoim koncie: "
                "skonfigurowane wcześniej aplikacje uwierzytelniające już nie działają.",
                "Kiedy:",
            ],
        ),
        (
            "pt_BR",
            "Test Site: Sua autenticação de dois fatores foi redefinida",
            [
                "Olá, alice,",
                "Um administrador redefiniu a autenticação de dois fatores da sua conta: os "
                "aplicativos autenticadores que você tinha configurado não funcionam mais.",
                "Quando:",
            ],
        ),
    ],
)
def test_an_email_notice_is_written_in_the_active_language(
    user, device, staff_user, django_capture_on_commit_callbacks, language, subject, phrases
):
    with (
        translation.override(translation.to_language(language)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.reset_user(user, actor=staff_user)
    (message,) = mail.outbox
    assert message.subject == subject
    body = " ".join(message.body.split())  # the templates wrap lines; split() also takes U+00A0
    for phrase in phrases:
        assert " ".join(phrase.split()) in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("en", "Authenticator app"),
        ("de", "Authenticator-App"),
        ("es", "Aplicación de autenticación"),
        ("fr", "Application d'authentification"),
        ("it", "App di autenticazione"),
        ("ja", "認証アプリ"),
        ("nl", "Authenticator-app"),
        ("pl", "Aplikacja uwierzytelniająca"),
        ("pt_BR", "Aplicativo autenticador"),
    ],
)
def test_a_new_device_is_named_in_the_language_of_the_user_setting_it_up(user, language, name):
    with translation.override(translation.to_language(language)):
        assert TOTPDevice.new_pending(user).name == name


# -- the catalogs ----------------------------------------------------------------------------


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(PACKAGE / "locale" / language / "LC_MESSAGES" / "django.po"))


def keys(po: polib.POFile | polib.MOFile) -> set[tuple[str | None, str, str]]:
    return {(entry.msgctxt, entry.msgid, entry.msgid_plural) for entry in po if not entry.obsolete}


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\{.*?\}\}|\{\w*\}")


@on_sqlite_pass_only
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    po = catalog(language)
    assert po.metadata["Language"] == language
    assert po.metadata["Plural-Forms"] == PLURAL_FORMS[language]
    assert po.metadata["Language-Team"]
    assert not po.metadata_is_fuzzy  # the header entry too
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert [e.msgid for e in po.obsolete_entries()] == []
    assert len(po.translated_entries()) > 150


@on_sqlite_pass_only
@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder_of_the_english(language):
    nplurals = int(re.search(r"nplurals=(\d+)", PLURAL_FORMS[language]).group(1))
    for entry in catalog(language):
        if entry.msgid_plural:
            assert sorted(entry.msgstr_plural) == list(range(nplurals)), entry.msgid
            forms = [entry.msgstr_plural[i] for i in range(nplurals)]
            # Form 0 is the singular where the language has one; every other form, and
            # Japanese's only form, stands for the plural.
            originals = [
                entry.msgid if i == 0 and nplurals > 1 else entry.msgid_plural
                for i in range(nplurals)
            ]
        else:
            forms, originals = [entry.msgstr], [entry.msgid]
        for original, translated in zip(originals, forms, strict=True):
            assert translated.strip(), entry.msgid
            assert sorted(PLACEHOLDER.findall(translated)) == sorted(
                PLACEHOLDER.findall(original)
            ), (entry.msgid, translated)


def run_makemessages(cwd: Path) -> None:
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.fail("GNU gettext is needed (xgettext, msgmerge): `make gettext-bin`")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "-m", "django", "makemessages"]
    for language in LANGUAGES:
        command += ["-l", language]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@on_sqlite_pass_only
def test_the_catalogs_hold_exactly_the_messages_in_the_code(tmp_path):
    """A string added, changed or removed without `make messages` fails here."""
    copy = tmp_path / "django_totp"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    run_makemessages(copy)
    for language in LANGUAGES:
        fresh = polib.pofile(str(copy / "locale" / language / "LC_MESSAGES" / "django.po"))
        committed = catalog(language)
        assert keys(fresh) - keys(committed) == set(), (
            f"new messages: run `make messages` ({language})"
        )
        assert keys(committed) - keys(fresh) == set(), (
            f"stale messages: run `make messages` ({language})"
        )
        assert [e.msgid for e in fresh.untranslated_entries() + fresh.fuzzy_entries()] == []


@on_sqlite_pass_only
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogs_match_the_sources(language):
    """The wheel ships the .mo: it must say what the .po says (`make messages` compiles)."""
    po = catalog(language)
    mo = polib.mofile(str(PACKAGE / "locale" / language / "LC_MESSAGES" / "django.mo"))

    def translations(entries) -> dict:
        return {
            (e.msgctxt, e.msgid, e.msgid_plural): (
                tuple(sorted(e.msgstr_plural.items())) if e.msgid_plural else e.msgstr
            )
            for e in entries
            if e.msgid and not e.obsolete
        }

    assert translations(mo) == translations(po)
    assert mo.metadata["Plural-Forms"] == po.metadata["Plural-Forms"]
