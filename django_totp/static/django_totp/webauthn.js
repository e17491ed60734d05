// Security keys and passkeys: runs navigator.credentials.create() or .get() with the options
// the server put on the page (json_script), then posts the answer through the page's form,
// with its CSRF token, like a code. The button stays hidden where the browser has no WebAuthn.
(function () {
  "use strict";
  var form = document.querySelector("[data-totp-webauthn]");
  if (!form) return;
  var mode = form.getAttribute("data-totp-webauthn"); // "create" (add a key) or "get" (use one)
  var button = form.querySelector("[data-totp-webauthn-start]");
  var field = form.querySelector("[data-totp-webauthn-credential]");
  var status = form.querySelector("[data-totp-webauthn-status]");
  var messages = JSON.parse(document.getElementById("totp-webauthn-messages").textContent);
  var options = JSON.parse(document.getElementById("totp-webauthn-options").textContent);

  function say(text) {
    status.textContent = text;
    status.hidden = false;
  }

  if (!window.PublicKeyCredential || !navigator.credentials || !window.isSecureContext) {
    say(messages.unsupported);
    return;
  }

  var json = window.djangoTotpWebAuthn; // webauthn-json.js, loaded first

  function failed(error) {
    button.disabled = false;
    if (error && error.name === "InvalidStateError") say(messages.registered);
    else if (error && error.name === "NotAllowedError") say(messages.cancelled);
    else if (error && error.name === "SecurityError") say(messages.wrong_address);
    else say(messages.failed);
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    if (mode === "create" && !form.reportValidity()) return;
    status.hidden = true;
    button.disabled = true;
    var request = {};
    try {
      request.publicKey = json.publicKey(mode, options);
    } catch (error) {
      failed(error);
      return;
    }
    navigator.credentials[mode](request).then(function (credential) {
      field.value = JSON.stringify(json.credentialJSON(mode, credential));
      form.submit();
    }, failed);
  });
})();
