/* Storefront behaviour on top of server-rendered pages and htmx. No framework; every page
 * works without this file. It adds:
 *  - keyboard and pointer handling for search suggestions (a combobox: arrows, Enter, Escape);
 *  - the product gallery: a thumbnail shows its picture in the main slot;
 *  - the filters disclosure: open beside the results on wide screens, kept open across htmx swaps,
 *    and so is a long facet's "Show all N" once opened;
 *  - live filters: a ticked box applies at once, the price range once the shopper leaves it, and
 *    a response never takes back what the shopper typed after its request left;
 *  - focus kept in place when htmx replaces what the shopper just used.
 */
(function () {
  "use strict";

  var WIDE = window.matchMedia("(min-width: 60rem)");

  /* Search suggestions ----------------------------------------------------------------- */

  function searchParts() {
    var input = document.getElementById("site-search");
    var box = document.getElementById("search-suggestions");
    return input && box ? { input: input, box: box } : null;
  }

  function options(box) {
    return Array.prototype.slice.call(box.querySelectorAll('[role="option"]'));
  }

  function setActive(parts, index) {
    var items = options(parts.box);
    items.forEach(function (item, i) {
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0 && items[index]) {
      parts.input.setAttribute("aria-activedescendant", items[index].id);
      items[index].scrollIntoView({ block: "nearest" });
    } else {
      parts.input.removeAttribute("aria-activedescendant");
    }
  }

  function activeIndex(parts) {
    return options(parts.box).findIndex(function (item) {
      return item.getAttribute("aria-selected") === "true";
    });
  }

  function closeSuggestions(parts) {
    parts.box.innerHTML = "";
    parts.input.setAttribute("aria-expanded", "false");
    parts.input.removeAttribute("aria-activedescendant");
  }

  function syncExpanded(parts) {
    var list = parts.box.querySelector('[role="listbox"]');
    parts.input.setAttribute("aria-expanded", list ? "true" : "false");
    parts.input.removeAttribute("aria-activedescendant");
    var status = document.getElementById("search-status");
    if (status) status.textContent = list ? list.getAttribute("data-status") || "" : "";
  }

  document.addEventListener("keydown", function (event) {
    var parts = searchParts();
    if (!parts || event.target !== parts.input) return;
    var items = options(parts.box);
    var index = activeIndex(parts);
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      setActive(parts, index + 1 >= items.length ? 0 : index + 1);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      setActive(parts, index <= 0 ? items.length - 1 : index - 1);
    } else if (event.key === "Enter" && index >= 0) {
      var link = items[index].querySelector("a");
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
    } else if (event.key === "Escape" && items.length) {
      // The first Escape closes the list; a second one is the browser's (clears the field).
      event.preventDefault();
      closeSuggestions(parts);
    }
  });

  // A pointer or focus elsewhere closes the list; a click inside follows its link as usual.
  document.addEventListener("pointerdown", function (event) {
    var parts = searchParts();
    if (parts && !parts.input.form.contains(event.target)) closeSuggestions(parts);
  });
  document.addEventListener("focusin", function (event) {
    var parts = searchParts();
    if (parts && !parts.input.form.contains(event.target) && parts.box.firstElementChild) closeSuggestions(parts);
  });

  /* Gallery ---------------------------------------------------------------------------- */

  document.addEventListener("click", function (event) {
    var thumb = event.target.closest && event.target.closest("[data-gallery-thumb]");
    if (!thumb || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    var gallery = thumb.closest("[data-gallery]");
    var main = gallery && gallery.querySelector("[data-gallery-main] img");
    var source = thumb.querySelector("img");
    if (!main || !source) return;
    event.preventDefault();
    // Copy the candidates, not the thumbnail's resolved URL: the main slot keeps its own `sizes`
    // and so still picks the large rendition.
    if (source.getAttribute("srcset")) {
      main.setAttribute("srcset", source.getAttribute("srcset"));
    } else {
      main.removeAttribute("srcset");
    }
    main.setAttribute("src", source.getAttribute("src"));
    main.setAttribute("alt", source.getAttribute("alt") || "");
    gallery.querySelectorAll("[data-gallery-thumb]").forEach(function (other) {
      if (other === thumb) other.setAttribute("aria-current", "true");
      else other.removeAttribute("aria-current");
    });
  });

  /* Filters disclosure ----------------------------------------------------------------- */

  var filtersOpen = null; // the shopper's own choice on a narrow screen, kept across swaps

  function syncFilters(root) {
    (root || document).querySelectorAll("details[data-filters]").forEach(function (details) {
      if (WIDE.matches) details.open = true;
      else if (filtersOpen !== null) details.open = filtersOpen;
    });
  }

  // A facet's "Show all N" the shopper opened stays open when the filters are re-drawn.
  var facetsShown = {};

  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.matches && details.matches("details[data-filters]") && !WIDE.matches) {
      filtersOpen = details.open;
    }
    if (details.matches && details.matches("details[data-facet-more]")) {
      facetsShown[details.getAttribute("data-facet-more")] = details.open;
    }
  }, true);

  function syncFacetLists(root) {
    (root || document).querySelectorAll("details[data-facet-more]").forEach(function (details) {
      if (facetsShown[details.getAttribute("data-facet-more")]) details.open = true;
    });
  }

  if (WIDE.addEventListener) {
    WIDE.addEventListener("change", function () {
      document.querySelectorAll("details[data-filters]").forEach(function (details) {
        details.open = WIDE.matches || filtersOpen === true;
      });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-close-filters]");
    if (!button) return;
    var details = button.closest("details[data-filters]");
    if (details) details.open = false;
    filtersOpen = false;
    var count = document.querySelector("#listing-results .result-count");
    if (count) {
      count.scrollIntoView({ block: "start" });
      count.focus({ preventScroll: true });
    }
  });

  /* Live filters --------------------------------------------------------------------------
   * The facet form re-draws itself with the results (its counts change). Applying on every
   * `change` would fire when Tab leaves "Min" and re-draw "Max" under the shopper's typing, so a
   * price applies only when focus leaves the range (or on Enter, the form's own submit). */

  function applyFilters(form) {
    form.dispatchEvent(new CustomEvent("facets-apply"));
  }

  function priceEdited(range) {
    return Array.prototype.some.call(range.querySelectorAll("input"), function (input) {
      return input.value !== input.defaultValue;
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-facets]");
    if (form && event.target.type === "checkbox") applyFilters(form);
  });

  document.addEventListener("focusout", function (event) {
    var range = event.target.closest && event.target.closest("[data-price-range]");
    if (!range || (event.relatedTarget && range.contains(event.relatedTarget))) return;
    if (priceEdited(range)) applyFilters(range.closest("form[data-facets]"));
  });

  // A response that lands while the shopper is typing in a box it replaces (a ticked box's answer,
  // or another cart line's) would put the value the request was sent with back in the box. The new
  // box keeps what was typed instead, and leaving it counts as a change (the browser fires none for
  // a value set by script), so it applies as if the shopper had typed it there.
  var typing = null;

  function keepTyped(box, value) {
    box.value = value;
    var typedSince = false;
    box.addEventListener("input", function () { typedSince = true; }, { once: true });
    box.addEventListener("blur", function () {
      // Typing after this fires the browser's own `change`; otherwise it is ours to fire.
      if (!typedSince && box.value !== box.defaultValue) {
        box.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }, { once: true });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var active = document.activeElement;
    typing = null;
    if (active && active.id && active.matches("input:not([type=checkbox]):not([type=radio]):not([type=hidden])")
        && event.detail.target && event.detail.target.contains(active) && active.value !== active.defaultValue) {
      typing = { id: active.id, value: active.value };
    }
  });

  /* htmx: keep focus and state where the shopper left them ---------------------------- */

  var pickerOption = null;
  var listingTrigger = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var picker = elt.closest && elt.closest(".picker");
    pickerOption = picker ? picker.getAttribute("data-option") : null;
    listingTrigger = elt.closest && elt.closest("#listing-results") ? elt : null;
  });

  // Empty price boxes would otherwise put "price_min=&price_max=" in every shared link.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt.closest || !elt.closest("#listing-results") || event.detail.verb !== "get") return;
    var params = event.detail.parameters;
    var empty = [];
    var keys = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
    keys.forEach(function (key) {
      var value = typeof params.getAll === "function" ? params.getAll(key) : [params[key]];
      if (value.every(function (v) { return v === ""; })) empty.push(key);
    });
    empty.forEach(function (key) {
      if (typeof params.delete === "function") params.delete(key);
      else delete params[key];
    });
  });

  // Before the new content paints, so a narrow screen never flashes the filters shut.
  document.addEventListener("htmx:afterSwap", function () {
    syncFilters();
    syncFacetLists();
    if (typing) {
      var box = document.getElementById(typing.id);
      if (box && box.value !== typing.value) keepTyped(box, typing.value);
      typing = null;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var parts = searchParts();
    if (parts && event.detail.target === parts.box) {
      syncExpanded(parts);
      return;
    }
    var lost = document.activeElement === document.body || document.activeElement === null;
    if (listingTrigger && !document.body.contains(listingTrigger) && lost) {
      // htmx gives focus back to an element with the same id; links such as "Next" or a removed
      // filter chip have none, so focus moves to the result count rather than being lost.
      var count = document.querySelector("#listing-results .result-count");
      if (count) count.focus({ preventScroll: true });
    }
    if (pickerOption && lost) {
      var current = document.querySelector('.picker[data-option="' + pickerOption + '"] .is-selected');
      if (current) current.focus({ preventScroll: true });
    }
    listingTrigger = null;
    pickerOption = null;
  });

  function init() {
    syncFilters();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
