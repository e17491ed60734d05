// WebAuthn options and credentials to and from their JSON form (base64url for the binary
// fields), for webauthn.js and passkey.js: the browser's own parse*OptionsFromJSON and
// toJSON() where it has them, this otherwise. Loaded before either, as window.djangoTotpWebAuthn.
(function () {
  "use strict";

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

  // Options for navigator.credentials.create() ("create") or .get() ("get").
  function publicKey(mode, options) {
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

  // What the browser answered, as the server reads it.
  function credentialJSON(mode, credential) {
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

  window.djangoTotpWebAuthn = { publicKey: publicKey, credentialJSON: credentialJSON };
})();
