// "Copy" and "Print" for the recovery-codes page. The buttons stay hidden without JavaScript;
// the download link works without it.
(function () {
  "use strict";
  document.querySelectorAll("[data-totp-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var list = document.getElementById(button.getAttribute("data-totp-copy"));
      var codes = Array.from(list.querySelectorAll("code"), function (c) { return c.textContent; });
      navigator.clipboard.writeText(codes.join("\n") + "\n").then(function () {
        button.textContent = button.getAttribute("data-totp-copied");
      });
    });
  });
  document.querySelectorAll("[data-totp-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
