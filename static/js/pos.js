// The sell screen (pos app). Everything works as plain forms; this only adds:
// - a plain message when a form could not reach the store (the connection dropped): nothing was
//   recorded yet or, for "Complete sale", maybe it was; pressing it again is safe, because the
//   sale's key makes the store record it once and answer the same receipt;
// - the scan box keeps the focus after each swap, so the next scan (code + Enter) lands in it;
// - "Print receipt".
(function () {
  "use strict";
  function offline(message) {
    var box = document.getElementById("pos-offline");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.target.closest ? event.target.closest("form") : null;
    if (form && form.classList.contains("pos-pay")) {
      offline("The sale was NOT sent: the connection dropped. Nothing is lost: when the connection is back, " +
              "press \u201cComplete sale\u201d again. The same sale is never recorded twice.");
    } else {
      offline("Not sent: the connection dropped. Try again when it is back.");
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.successful !== undefined && !event.detail.failed && event.detail.xhr &&
        event.detail.xhr.status > 0) {
      offline("");
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    // Refusals (400, 409) carry the sale panel with the reason: show it.
    var status = event.detail.xhr.status;
    if (status === 400 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var scan = document.getElementById("scan");
    if (scan) scan.focus();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });
})();
