/* The chat launcher: the same markup on every page (shared page cache); this script fetches the
 * visitor's own conversation when it is opened and keeps it live with server-sent events.
 *
 * Nothing lost, nothing twice: every message has an id; the stream replays what came after the
 * last id this page has (EventSource resends it as Last-Event-ID when it reconnects), and a
 * message whose id is already shown is dropped. Text is only ever set as text; links are made
 * from URLs by building <a> elements, never from HTML.
 */
(function () {
  "use strict";

  // A discount code's "Copy" on the plain conversation page (templates/chat/payloads/): hidden
  // there until this script can make it work.
  Array.prototype.forEach.call(document.querySelectorAll("button.chat-copy[data-copy]"), function (button) {
    wireCopy(button, button.dataset.copy);
  });

  var root = document.getElementById("chat");
  if (!root || !window.EventSource || !window.fetch) return; // the button stays a link to /contact/

  var OPEN_KEY = "chat:open";
  var panel = document.getElementById("chat-panel");
  var openButton = document.getElementById("chat-open");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var fileInput = document.getElementById("chat-file");
  var typingNote = document.getElementById("chat-typing");
  var errorNote = document.getElementById("chat-error");
  var state = { csrf: "", conversation: null, seen: {}, lastId: 0, stream: null, loading: null, greeting: "", menu: [] };
  var typingTimer = null;
  var lastTypingSent = 0;

  function post(url, data, extraHeaders, file) {
    // The CSRF token comes with the chat's state: a message typed before the state arrived waits
    // for it (it went with no token, was refused and lost).
    var ready = state.csrf ? Promise.resolve() : load();
    return ready.then(function () {
      // A file goes as multipart form data; everything else as a plain form.
      var body = file ? new FormData() : new URLSearchParams();
      Object.keys(data).forEach(function (key) { body.append(key, data[key]); });
      if (file) body.append("file", file, file.name);
      var headers = { "X-CSRFToken": state.csrf, "Accept": "application/json" };
      Object.keys(extraHeaders || {}).forEach(function (key) { headers[key] = extraHeaders[key]; });
      return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: headers });
    });
  }

  function copyButton(text) {
    var button = el("button", "button button-quiet button-small chat-copy");
    button.type = "button";
    button.hidden = true;
    wireCopy(button, text);
    return button;
  }

  function wireCopy(button, text) {
    if (!navigator.clipboard) return; // the code stays on screen to copy by hand
    button.textContent = "Copy";
    button.hidden = false;
    button.setAttribute("aria-label", "Copy the code " + text);
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    });
  }

  function showError(text) {
    errorNote.textContent = text || "";
    errorNote.hidden = !text;
  }

  function appendText(parent, text) {
    var pattern = /https?:\/\/[^\s<>"']+/g;
    var at = 0;
    var found;
    while ((found = pattern.exec(text)) !== null) {
      var url = found[0].replace(/[.,;:!?)]+$/, "");
      parent.appendChild(document.createTextNode(text.slice(at, found.index)));
      var link = document.createElement("a");
      link.href = url;
      link.rel = "nofollow noopener";
      link.target = "_blank";
      link.textContent = url;
      parent.appendChild(link);
      at = found.index + url.length;
      pattern.lastIndex = at;
    }
    parent.appendChild(document.createTextNode(text.slice(at)));
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function authorName(message) {
    if (message.sender === "shopper") return "You";
    if (message.sender === "agent") return message.author || "Staff";
    if (message.sender === "bot") return "Assistant";
    return "";
  }

  function clearQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".chat-quick-replies, .chat-rating"), function (node) {
      node.remove();
    });
  }

  /* A message's cards, drawn from the server's shopper view of its payload (chat/payloads.py):
   * texts already escaped by being set as text, amounts already formatted, addresses already
   * checked. The plain pages draw the same from templates/chat/payloads/. */
  function renderPayload(item, message) {
    var payload = message.payload || {};
    (payload.cards || []).forEach(function (card) { item.appendChild(productCard(card)); });
    if (payload.cart) item.appendChild(cartCard(payload.cart));
    if (payload.discount) item.appendChild(discountCard(payload.discount));
    if (payload.gift_card) item.appendChild(giftCardCard(payload.gift_card));
    (payload.orders || []).forEach(function (order) { item.appendChild(orderCard(order)); });
    (payload.attachments || []).forEach(function (file) {
      // Served only to this browser's conversation (the address checks the visitor).
      var url = state.conversation ? state.conversation.urls.attachment.replace(/\/0\/$/, "/" + file.id + "/") : "";
      var box = el("p", "chat-attachment");
      var link = el("a", "chat-attachment-link", file.kind === "image" ? "" : file.name + " (PDF)");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      if (file.kind === "image") {
        var image = el("img", "chat-attachment-image");
        image.src = url;
        image.alt = file.name;
        image.style.maxWidth = "100%";
        link.appendChild(image);
      }
      box.appendChild(link);
      item.appendChild(box);
    });
  }

  function linkOrText(className, text, url) {
    if (!url) return el("span", className, text);
    var link = el("a", className, text);
    link.href = url;
    return link;
  }

  function buttonLink(text, url, quiet) {
    var link = el("a", "button button-small chat-card-action" + (quiet ? " button-quiet" : ""), text);
    link.href = url;
    return link;
  }

  // A plain form post (with the CSRF token the state gave): the page goes where the store's own
  // view sends it (the cart), with its message.
  function postForm(action, fields, label) {
    var form = el("form", "chat-card-action");
    form.method = "post";
    form.action = action;
    fields.csrfmiddlewaretoken = state.csrf;
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    var button = el("button", "button button-small", label);
    button.type = "submit";
    form.appendChild(button);
    return form;
  }

  function productCard(card) {
    var box = el("div", "chat-card chat-product");
    if (card.image) {
      var image = el("img", "chat-card-image");
      image.src = card.image;
      image.alt = "";
      image.loading = "lazy";
      image.width = 64;
      image.height = 64;
      box.appendChild(image);
    }
    var text = el("div", "chat-card-text");
    text.appendChild(linkOrText("chat-card-title", card.title, card.url));
    if (card.price) text.appendChild(el("span", "chat-card-price", card.price));
    if (!card.in_stock) {
      text.appendChild(el("span", "chat-card-note", "Out of stock"));
      // The option asked for is out; others are not: the product page lets them choose.
      if (card.options_in_stock && card.url) text.appendChild(buttonLink("Choose options", card.url, true));
    } else if (card.variant) text.appendChild(addToCartButton(card));
    else if (card.url) text.appendChild(buttonLink("Choose options", card.url, true));
    box.appendChild(text);
    return box;
  }

  function cartCard(cart) {
    var box = el("div", "chat-card chat-cart");
    box.appendChild(el("p", "chat-card-heading", cart.added ? "In your cart now" : "A cart made for you"));
    var list = el("ul", "chat-cart-lines");
    (cart.lines || []).forEach(function (line) {
      var row = el("li");
      var what = el("span", "", line.quantity + " × " + line.title);
      if (line.quantity > 1 && line.price) what.appendChild(el("small", "", " (" + line.price + " each)"));
      row.appendChild(what);
      if (line.total) row.appendChild(el("span", "chat-card-price", line.total));
      list.appendChild(row);
    });
    box.appendChild(list);
    if (cart.total) {
      var total = el("p", "chat-cart-total", "Total ");
      total.appendChild(el("span", "chat-card-price", cart.total));
      box.appendChild(total);
    }
    if (cart.url) box.appendChild(cart.added ? buttonLink("View my cart", cart.url) : postForm(cart.url, {}, "Fill my cart"));
    return box;
  }

  function discountCard(discount) {
    var box = el("div", "chat-card chat-discount");
    box.appendChild(el("p", "chat-card-heading", discount.promotion));
    if (discount.gives) box.appendChild(el("p", "chat-discount-gives", discount.gives));
    var row = el("p");
    row.appendChild(el("code", "chat-discount-code", discount.code));
    row.appendChild(document.createTextNode(" "));
    row.appendChild(copyButton(discount.code));
    box.appendChild(row);
    box.appendChild(postForm(discount.apply_url, { code: discount.code, next: cartUrl() }, "Apply to my cart"));
    return box;
  }

  function giftCardCard(card) {
    var box = el("div", "chat-card chat-gift-card");
    box.appendChild(el("p", "chat-card-heading", "A gift card of " + card.amount));
    box.appendChild(el("p", "", "Its code is in the email we sent you. To pay with it, enter the code under " +
      "“Gift cards” when you review your order at checkout."));
    return box;
  }

  function orderCard(order) {
    var box = el("div", "chat-card chat-order");
    box.appendChild(el("p", "chat-card-heading", "Order " + order.number));
    var row = el("p");
    row.appendChild(el("span", "chat-order-status", order.status));
    if (order.total) {
      row.appendChild(document.createTextNode(" · "));
      row.appendChild(el("span", "chat-order-total", order.total));
    }
    box.appendChild(row);
    if (order.url) box.appendChild(buttonLink(order.pay ? "Pay now" : "View order", order.url));
    return box;
  }

  function cartUrl() {
    var link = document.getElementById("mini-cart");
    return link ? link.getAttribute("href") : "/cart/";
  }

  function addToCartButton(card) {
    var button = el("button", "button button-small chat-add-to-cart", "Add to cart");
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      post(root.dataset.cartAddUrl, { variant: card.variant, product: card.product, quantity: 1 }, { "HX-Request": "true" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          // The cart's own answer (an htmx fragment), read as text only.
          var answer = new DOMParser().parseFromString(html, "text/html").body.textContent.trim();
          button.replaceWith(el("span", "chat-added", answer));
          document.body.dispatchEvent(new CustomEvent("cart-changed")); // the header's count refreshes
        })
        .catch(function () {
          button.disabled = false;
          showError("Sorry, that did not reach your cart. Please try again.");
        });
    });
    return button;
  }

  function renderQuickReplies(message) {
    var payload = message.payload || {};
    if (payload.quick_replies && payload.quick_replies.length) {
      var row = el("li", "chat-quick-replies");
      payload.quick_replies.forEach(function (reply) {
        var button = el("button", "button button-quiet button-small chat-quick-reply", reply.label);
        button.type = "button";
        button.addEventListener("click", function () {
          say(reply.label, reply.action, reply.value || "");
        });
        row.appendChild(button);
      });
      log.appendChild(row);
    }
    if (payload.ask_rating && state.conversation && state.conversation.status === "resolved" && !state.conversation.rating) {
      renderRating();
    }
  }

  function renderRating() {
    var box = el("li", "chat-rating");
    box.appendChild(el("p", "", "Rate this conversation:"));
    var comment = el("input", "input chat-rating-comment");
    comment.type = "text";
    comment.maxLength = 500;
    comment.placeholder = "Comment (optional)";
    comment.setAttribute("aria-label", "Comment");
    [1, 2, 3, 4, 5].forEach(function (stars) {
      var button = el("button", "button button-quiet button-small", String(stars));
      button.type = "button";
      button.setAttribute("aria-label", stars + " of 5");
      button.addEventListener("click", function () {
        post(state.conversation.urls.rate, { rating: stars, comment: comment.value }).then(function (response) {
          return response.json();
        }).then(function (data) {
          if (data.error) { showError(data.error); return; }
          state.conversation = data.conversation;
          box.replaceWith(el("li", "chat-rated", "Thank you for your rating."));
        });
      });
      box.appendChild(button);
    });
    box.appendChild(comment);
    log.appendChild(box);
  }

  function addMessage(message) {
    if (message.note || state.seen[message.id]) return false;
    state.seen[message.id] = true;
    state.lastId = Math.max(state.lastId, message.id);
    clearQuickReplies();
    var item = el("li", "chat-message chat-from-" + message.sender);
    item.dataset.messageId = message.id;
    var name = authorName(message);
    if (name) item.appendChild(el("p", "chat-author", name));
    var body = el("p", "chat-body");
    appendText(body, message.body);
    item.appendChild(body);
    renderPayload(item, message);
    if (message.sender === "shopper") {
      var mark = el("span", "chat-seen", message.seen ? "Seen" : "");
      item.appendChild(mark);
    }
    log.appendChild(item);
    renderQuickReplies(message);
    log.scrollTop = log.scrollHeight;
    return true;
  }

  function markSeen() {
    if (!state.conversation || panel.hidden || document.hidden || !state.lastId) return;
    post(state.conversation.urls.seen, { up_to: state.lastId });
  }

  function showGreeting() {
    log.textContent = "";
    addMessage({ id: -1, sender: "bot", body: state.greeting, payload: { quick_replies: state.menu } });
  }

  function takeConversation(data) {
    var changed = !state.conversation || state.conversation.id !== data.conversation.id;
    if (changed && state.conversation === null) {
      log.textContent = ""; // the greeting shown before there was a conversation
      state.seen = {};
    }
    state.conversation = data.conversation;
    var added = false;
    (data.messages || []).forEach(function (message) { added = addMessage(message) || added; });
    if (changed) connect();
    if (added) markSeen();
  }

  function connect() {
    if (state.stream) state.stream.close();
    var source = new EventSource(state.conversation.urls.stream + "?after=" + state.lastId);
    state.stream = source;
    source.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      typingNote.hidden = true;
      if (addMessage(message) && message.sender !== "shopper") markSeen();
      if (message.payload && message.payload.ask_rating) refresh();
    });
    source.addEventListener("typing", function () {
      typingNote.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typingNote.hidden = true; }, 4000);
    });
    source.addEventListener("seen", function (event) {
      var upTo = JSON.parse(event.data).up_to;
      Array.prototype.forEach.call(log.querySelectorAll(".chat-from-shopper"), function (item) {
        if (Number(item.dataset.messageId) <= upTo) item.querySelector(".chat-seen").textContent = "Seen";
      });
    });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (with Last-Event-ID); only a refused stream stays closed.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(function () { if (state.stream === source) connect(); }, 3000);
      }
    });
  }

  function refresh() {
    fetch(state.conversation.urls.messages + "?after=" + state.lastId, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        state.conversation = data.conversation;
        data.messages.forEach(addMessage);
        if (data.conversation.status === "resolved" && !data.conversation.rating && !log.querySelector(".chat-rating")) {
          renderRating();
        }
      });
  }

  function load() {
    // One fetch, however many callers: each waits for the same answer.
    if (state.loading) return state.loading;
    state.loading = fetch(root.dataset.stateUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        state.csrf = data.csrf;
        state.greeting = data.greeting;
        state.menu = data.menu;
        if (data.conversation) {
          takeConversation(data);
          if (data.conversation.status === "resolved" && !data.conversation.rating && !log.querySelector(".chat-rating")) {
            renderRating();
          }
        } else {
          showGreeting();
        }
      });
    return state.loading;
  }

  function say(text, action, value, file) {
    showError("");
    var data = { body: text, action: action || "", value: value || "", page: location.pathname };
    var url = state.conversation ? state.conversation.urls.send : root.dataset.startUrl;
    return post(url, data, null, file).then(function (response) {
      // An answer that is not the chat's JSON (a proxy's or the server's error page) is a failure.
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { ok: response.ok, json: json };
      });
    }).then(function (result) {
      if (!result.ok) { showError(result.json.error || "Sorry, that did not send. Please try again."); return; }
      takeConversation(result.json);
    });
  }

  function setOpen(open) {
    panel.hidden = !open;
    openButton.setAttribute("aria-expanded", open ? "true" : "false");
    try { localStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* private mode */ }
    if (open) {
      load().then(function () { input.focus(); markSeen(); });
    }
  }

  openButton.addEventListener("click", function (event) {
    event.preventDefault();
    setOpen(panel.hidden);
  });
  document.getElementById("chat-close").addEventListener("click", function () {
    stored("chat:closed", "1"); // no proactive message opens it again for this visitor
    setOpen(false);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    var file = fileInput && fileInput.files.length ? fileInput.files[0] : null;
    if (!text && !file) return;
    input.value = "";
    if (fileInput) fileInput.value = "";
    say(text, "", "", file);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    if (!state.conversation || Date.now() - lastTypingSent < 2000) return;
    lastTypingSent = Date.now();
    post(state.conversation.urls.typing, {});
  });
  document.addEventListener("visibilitychange", markSeen);

  var wasOpen = false;
  try { wasOpen = localStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* private mode */ }
  if (wasOpen) setOpen(true);
  else proactive();

  /* Proactive messages: staff's triggers, decided here from what the browser knows (nothing about
   * the visitor is sent): at most one a day, never for a visitor who closed the chat. */
  function stored(key, value) {
    try {
      if (value === undefined) return localStorage.getItem(key);
      localStorage.setItem(key, value);
    } catch (e) { return null; }
    return value;
  }

  function pageType() {
    var path = location.pathname;
    if (path === "/") return "home";
    if (path.indexOf("/p/") === 0) return "product";
    if (path.indexOf("/c/") === 0) return "category";
    if (path.indexOf("/search/") === 0) return "search";
    if (path.indexOf("/cart/") === 0) return "cart";
    return "other";
  }

  function cents(amount) { return Math.round(Number(amount || 0) * 100); } /* "12.50": two decimals */

  function proactive() {
    var today = new Date().toISOString().slice(0, 10);
    if (!sessionStorage.getItem("chat:visit")) {
      sessionStorage.setItem("chat:visit", "1");
      stored("chat:visits", String(Number(stored("chat:visits") || 0) + 1));
    }
    if (stored("chat:closed") === "1" || stored("chat:proactive") === today) return;
    fetch(root.dataset.triggersUrl, { credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var count = document.querySelector("#mini-cart .cart-count");
        var items = count ? Number(count.dataset.count) || 0 : 0;
        var returning = Number(stored("chat:visits") || 0) > 1;
        var here = pageType();
        var candidates = data.triggers.filter(function (t) {
          return (t.page_type === "any" || t.page_type === here) && items >= t.min_cart_items &&
            (!t.returning_only || returning);
        });
        if (!candidates.some(function (t) { return cents(t.min_cart_value) > 0; })) return candidates;
        // An empty cart is worth nothing: no need to ask.
        if (!items) return candidates.filter(function (t) { return cents(t.min_cart_value) <= 0; });
        // A minimum cart value: the server prices this visitor's cart (their own answer, never cached).
        return fetch(root.dataset.cartValueUrl, { credentials: "same-origin" })
          .then(function (response) { return response.json(); })
          .then(function (mine) {
            var value = cents(mine.cart_value);
            return candidates.filter(function (t) { return value >= cents(t.min_cart_value); });
          });
      })
      .then(function (candidates) {
        var trigger = (candidates || [])[0];
        if (!trigger) return;
        setTimeout(function () {
          if (!panel.hidden || stored("chat:proactive") === today || stored("chat:closed") === "1") return;
          stored("chat:proactive", today);
          setOpen(true);
          load().then(function () {
            if (!state.conversation) addMessage({ id: -2, sender: "bot", body: trigger.message, payload: {} });
          });
        }, trigger.seconds_on_page * 1000);
      });
  }
})();
