// Passkey sign-in ({% totp_passkey_sign_in %}): asks the server for a challenge (a POST with
// the form's CSRF token), runs navigator.credentials.get() with no allowCredentials, then posts
// the answer through the form, like a code. Where the browser offers passkey autofill
// (conditional mediation), the page's username field offers the passkeys too. The button stays
// hidden where the browser has no WebAuthn.
(function () {
  "use strict";
  var form = document.querySelector("[data-totp-passkey]");
  if (!form) return;
  var button = form.querySelector("[data-totp-passkey-start]");
  var field = form.querySelector("[data-totp-passkey-credential]");
  var status = form.querySelector("[data-totp-passkey-status]");
  var config = JSON.parse(document.getElementById("totp-passkey-config").textContent);
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  if (!window.PublicKeyCredential || !navigator.credentials || !window.isSecureContext) return;

  function say(text) {
    status.textContent = text;
    status.hidden = false;
  }

  var json = window.djangoTotpWebAuthn; // webauthn-json.js, loaded first

  // A challenge for this page: one POST, reused until an answer is posted (the server keeps
  // one per session and purpose).
  var pending = null;
  function challenge() {
    if (!pending) {
      pending = fetch(config.begin, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      }).then(function (response) {
        if (response.status === 429) throw { name: "RateLimited" };
        if (!response.ok) throw { name: "Failed" };
        return response.json();
      });
      pending.catch(function () { pending = null; });
    }
    return pending;
  }

  function send(credential) {
    field.value = JSON.stringify(json.credentialJSON("get", credential));
    form.submit();
  }

  var autofill = null; // the AbortController of a pending conditional request

  function failed(error) {
    button.disabled = false;
    if (error && error.name === "RateLimited") say(config.messages.limited);
    else if (error && error.name === "NotAllowedError") say(config.messages.cancelled);
    else if (error && error.name !== "AbortError") say(config.messages.failed);
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    status.hidden = true;
    button.disabled = true;
    if (autofill) autofill.abort();
    challenge().then(function (options) {
      return navigator.credentials.get({ publicKey: json.publicKey("get", options) });
    }).then(send, failed);
  });

  // Passkey autofill: the username field offers passkeys beside saved usernames.
  var username = document.querySelector('input[autocomplete~="username"]');
  if (!username || !PublicKeyCredential.isConditionalMediationAvailable) return;

  // A challenge asked for on load answers with the session cookie of the anonymous session
  // it stored the challenge in. Should that answer arrive after a password sign-in's (a
  // password manager submits at once), its cookie would replace the signed-in one: the site's
  // login form waits for it instead.
  if (username.form) {
    username.form.addEventListener("submit", function (event) {
      if (!pending) return;
      var login = event.target;
      event.preventDefault();
      var post = function () {
        pending = null;
        if (autofill) autofill.abort();
        login.submit();
      };
      pending.then(post, post);
    });
  }
  PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
    if (!available) return;
    if (!/\bwebauthn\b/.test(username.getAttribute("autocomplete"))) {
      username.setAttribute("autocomplete", username.getAttribute("autocomplete") + " webauthn");
    }
    autofill = new AbortController();
    var signal = autofill.signal;
    return challenge().then(function (options) {
      return navigator.credentials.get({
        publicKey: json.publicKey("get", options),
        mediation: "conditional",
        signal: signal,
      });
    }).then(send, function (error) {
      if (!signal.aborted) failed(error);
    });
  });
})();
