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

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toBase64url(buffer) {
    var binary = String.fromCharCode.apply(null, new Uint8Array(buffer));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: fromBase64url(d.id), transports: d.transports };
    });
  }

  function publicKey() {
    if (mode === "create") {
      if (PublicKeyCredential.parseCreationOptionsFromJSON) {
        return PublicKeyCredential.parseCreationOptionsFromJSON(options);
      }
      var created = Object.assign({}, options);
      created.challenge = fromBase64url(options.challenge);
      created.user = Object.assign({}, options.user, { id: fromBase64url(options.user.id) });
      created.excludeCredentials = descriptors(options.excludeCredentials);
      return created;
    }
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(options);
    }
    var requested = Object.assign({}, options);
    requested.challenge = fromBase64url(options.challenge);
    requested.allowCredentials = descriptors(options.allowCredentials);
    return requested;
  }

  function toJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (mode === "create") {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

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
      request.publicKey = publicKey();
    } catch (error) {
      failed(error);
      return;
    }
    navigator.credentials[mode](request).then(function (credential) {
      field.value = JSON.stringify(toJSON(credential));
      form.submit();
    }, failed);
  });
})();
