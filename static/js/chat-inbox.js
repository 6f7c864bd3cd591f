/* The back office's chat inbox and conversation page, live.
 *
 * The inbox re-reads its list (a server-rendered fragment) when the inbox stream says a
 * conversation changed. A conversation page listens to the conversation's stream and, on a new
 * message, fetches the messages after the last one it shows (server-rendered, the same template
 * as the page); an id already shown is skipped. Without JavaScript both are plain pages and forms.
 */
(function () {
  "use strict";

  function csrf(scope) {
    var field = scope.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function inbox(root) {
    var timer = null;
    function reload() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(root.dataset.fragmentUrl, { credentials: "same-origin" })
          .then(function (response) { return response.text(); })
          .then(function (html) { root.innerHTML = html; });
      }, 250);
    }
    var source = new EventSource(root.dataset.streamUrl);
    source.addEventListener("inbox", reload);
  }

  function conversation(root) {
    var list = document.getElementById("chat-messages");
    var typing = document.getElementById("chat-typing");
    var form = document.getElementById("chat-reply-form");
    var lastId = Number(root.dataset.lastId) || 0;
    var typingTimer = null;
    var fetching = false;
    var again = false;

    function scroll() { list.scrollTop = list.scrollHeight; }

    function catchUp() {
      if (fetching) { again = true; return; }
      fetching = true;
      fetch(root.dataset.messagesUrl + "?after=" + lastId, { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var holder = document.createElement("ol");
          holder.innerHTML = html;
          Array.prototype.forEach.call(holder.querySelectorAll("li[data-message-id]"), function (item) {
            var id = Number(item.dataset.messageId);
            if (id <= lastId) return;
            lastId = id;
            list.appendChild(item);
          });
          scroll();
        })
        .finally(function () {
          fetching = false;
          if (again) { again = false; catchUp(); }
        });
    }

    // A message shown already that changed (a file fetched from WhatsApp or Messenger): its
    // item is read again from the page's own template and put in place of the old one.
    function refresh(id) {
      fetch(root.dataset.messagesUrl + "?after=" + (id - 1), { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var holder = document.createElement("ol");
          holder.innerHTML = html;
          var fresh = holder.querySelector('li[data-message-id="' + id + '"]');
          var old = list.querySelector('li[data-message-id="' + id + '"]');
          if (fresh && old) old.replaceWith(fresh);
        });
    }

    var source = new EventSource(root.dataset.streamUrl + "?after=" + lastId);
    source.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      if (message.id > lastId) {
        typing.hidden = true;
        catchUp();
      }
    });
    source.addEventListener("updated", function (event) {
      var id = Number(JSON.parse(event.data).id);
      if (id && id <= lastId) refresh(id);
    });
    source.addEventListener("typing", function () {
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typing.hidden = true; }, 4000);
    });
    scroll();

    if (!form) return;
    var body = document.getElementById("chat-reply-body");
    var canned = document.getElementById("chat-canned");
    if (canned) {
      canned.addEventListener("change", function () {
        var option = canned.options[canned.selectedIndex];
        if (option && option.dataset.body && !body.value.trim()) body.value = option.dataset.body;
      });
    }
    var lastTyping = 0;
    body.addEventListener("input", function () {
      if (Date.now() - lastTyping < 2000) return;
      lastTyping = Date.now();
      var data = new URLSearchParams();
      fetch(root.dataset.typingUrl, {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrf(form) },
      });
    });
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !body.value.trim()) return; // an empty box with a canned reply: a plain post
      event.preventDefault();
      var data = new URLSearchParams(new FormData(form));
      data.set("do", button.value);
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(form), "Accept": "application/json" },
      }).then(function (response) {
        if (response.ok) {
          body.value = "";
          catchUp();
        } else {
          form.submit();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("chat-inbox");
    if (root && window.EventSource) inbox(root);
    var page = document.getElementById("chat-thread");
    if (page && window.EventSource) conversation(page);
  });
})();
