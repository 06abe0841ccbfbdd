// Latchkey's progressive enhancement. Every page works without this file:
// menus are <details>, dialogs are pages, actions are plain form posts. With
// it, the row menus become WAI-ARIA menu buttons, actions open in a modal
// <dialog> through htmx, and focus always lands somewhere sensible.
// No inline script anywhere: the CSP forbids it.
(function () {
  "use strict";

  var dialog = null;
  var dialogContent = null;
  // Where focus goes when the dialog closes: the control that opened it,
  // unless a response named a better place.
  var returnFocusTo = null;
  var pendingFocus = null;

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function statusRegion() {
    return document.getElementById("status");
  }

  function announce(text) {
    var region = statusRegion();
    if (region) region.textContent = text;
  }

  // The table caption is the last resort for focus: never <body>.
  function fallbackFocus() {
    return document.getElementById("tokens-caption") || document.getElementById("main");
  }

  function focusElement(el) {
    if (!el || !document.contains(el)) el = fallbackFocus();
    if (el) el.focus();
  }

  // ---------------------------------------------------------------------
  // Menu button (https://www.w3.org/WAI/ARIA/apg/patterns/menu-button/)
  // ---------------------------------------------------------------------

  function upgradeMenus(root) {
    var found = $all("details[data-menu]", root);
    if (root.matches && root.matches("details[data-menu]")) found.push(root);
    found.forEach(upgradeMenu);
  }

  function upgradeMenu(details) {
    var summary = $("summary", details);
    var list = $(".menu-list", details);
    var row = details.closest("tr");
    if (!summary || !list || !row) return;
    var id = row.id.replace(/^row-/, "actions-");

    var button = document.createElement("button");
    button.type = "button";
    button.id = id;
    button.className = summary.className;
    while (summary.firstChild) button.appendChild(summary.firstChild);
    button.setAttribute("aria-haspopup", "menu");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", id + "-menu");

    list.id = id + "-menu";
    list.setAttribute("role", "menu");
    list.setAttribute("aria-labelledby", id);
    list.hidden = true;
    $all("li, form", list).forEach(function (el) {
      el.setAttribute("role", "none");
    });
    // The items work as plain links and forms without JavaScript; with it
    // they load into the dialog through htmx (rows are kept lean by leaving
    // these attributes to this script).
    // (Except links to another page, marked data-navigate.)
    $all("a:not([data-navigate])", list).forEach(function (link) {
      link.setAttribute("hx-get", link.getAttribute("href"));
      link.setAttribute("hx-target", "#dialog-content");
    });
    $all("button[formaction]", list).forEach(function (button) {
      button.setAttribute("hx-post", button.getAttribute("formaction"));
      button.setAttribute("hx-target", "#dialog-content");
    });
    $all("a, button", list).forEach(function (item) {
      item.setAttribute("data-menu-item", "");
      item.setAttribute("role", "menuitem");
      item.setAttribute("tabindex", "-1");
    });

    var menu = document.createElement("div");
    menu.className = "menu is-enhanced";
    menu.appendChild(button);
    menu.appendChild(list);
    details.replaceWith(menu);
    if (window.htmx) window.htmx.process(menu);

    button.addEventListener("click", function () {
      if (isOpen(menu)) closeMenu(menu, true);
      else openMenu(menu, 0);
    });
    button.addEventListener("keydown", function (event) {
      switch (event.key) {
        case "Enter":
        case " ":
        case "ArrowDown":
          event.preventDefault();
          openMenu(menu, 0);
          break;
        case "ArrowUp":
          event.preventDefault();
          openMenu(menu, -1);
          break;
      }
    });
    list.addEventListener("keydown", function (event) {
      var items = menuItems(menu);
      var index = items.indexOf(document.activeElement);
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          items[(index + 1) % items.length].focus({ preventScroll: true });
          break;
        case "ArrowUp":
          event.preventDefault();
          items[(index - 1 + items.length) % items.length].focus({ preventScroll: true });
          break;
        case "Home":
          event.preventDefault();
          items[0].focus({ preventScroll: true });
          break;
        case "End":
          event.preventDefault();
          items[items.length - 1].focus({ preventScroll: true });
          break;
        case "Escape":
          event.preventDefault();
          event.stopPropagation();
          closeMenu(menu, true);
          break;
        case "Tab":
          closeMenu(menu, false);
          break;
        case " ":
          // Space activates links too, as it does buttons.
          if (document.activeElement && document.activeElement.tagName === "A") {
            event.preventDefault();
            document.activeElement.click();
          }
          break;
        default:
          // Type-ahead: the next item starting with the typed letter.
          if (event.key.length === 1 && /\S/.test(event.key)) {
            var letter = event.key.toLowerCase();
            for (var i = 1; i <= items.length; i++) {
              var candidate = items[(index + i) % items.length];
              if (candidate.textContent.trim().toLowerCase().indexOf(letter) === 0) {
                candidate.focus({ preventScroll: true });
                break;
              }
            }
          }
      }
    });
    // Choosing an item closes the menu; the dialog that follows (or the
    // button) takes focus, and the dialog returns it to this button.
    list.addEventListener("click", function (event) {
      if (event.target.closest("[data-menu-item]")) {
        returnFocusTo = button;
        closeMenu(menu, true);
      }
    });
  }

  function menuItems(menu) {
    return $all('[role="menuitem"]', menu);
  }

  function isOpen(menu) {
    return $("[aria-haspopup]", menu).getAttribute("aria-expanded") === "true";
  }

  function openMenu(menu, index) {
    $all(".menu.is-enhanced").forEach(function (other) {
      if (other !== menu && isOpen(other)) closeMenu(other, false);
    });
    var button = $("[aria-haspopup]", menu);
    var list = $('[role="menu"]', menu);
    button.setAttribute("aria-expanded", "true");
    list.hidden = false;
    positionMenu(button, list);
    var items = menuItems(menu);
    // preventScroll: the list is fixed-positioned, and scrolling its
    // container would close it again (see the scroll listener below).
    if (items.length) items[index < 0 ? items.length - 1 : index].focus({ preventScroll: true });
  }

  function closeMenu(menu, focusButton) {
    var button = $("[aria-haspopup]", menu);
    button.setAttribute("aria-expanded", "false");
    $('[role="menu"]', menu).hidden = true;
    if (focusButton) button.focus();
  }

  // The table scrolls inside its own wrapper, which would clip a dropdown, so
  // the open menu is placed in the viewport next to its button.
  function positionMenu(button, list) {
    var rect = button.getBoundingClientRect();
    var width = list.offsetWidth;
    var height = list.offsetHeight;
    var left = Math.max(8, Math.min(rect.right - width, window.innerWidth - width - 8));
    var top = rect.bottom + 4;
    if (top + height > window.innerHeight - 8 && rect.top - height - 4 > 8) {
      top = rect.top - height - 4;
    }
    list.style.left = left + "px";
    list.style.top = top + "px";
  }

  // Closing a menu that holds focus hands focus to its button, never <body>.
  function closeAllMenus() {
    $all(".menu.is-enhanced").forEach(function (menu) {
      if (isOpen(menu)) closeMenu(menu, menu.contains(document.activeElement));
    });
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest(".menu.is-enhanced")) closeAllMenus();
  });
  // Keep an open menu next to its button when the page or the table
  // scrolls (scroll events arrive late, so closing on them would also close a
  // menu just opened by a click that scrolled the button into view).
  function repositionOpenMenus() {
    $all(".menu.is-enhanced").forEach(function (menu) {
      if (isOpen(menu)) positionMenu($("[aria-haspopup]", menu), $('[role="menu"]', menu));
    });
  }
  window.addEventListener("resize", repositionOpenMenus);
  document.addEventListener("scroll", repositionOpenMenus, true);

  // ---------------------------------------------------------------------
  // Dialogs: htmx puts content into #dialog-content; we open it modally.
  // ---------------------------------------------------------------------

  function firstFocusable(root) {
    return $(
      'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])',
      root
    );
  }

  function openDialogForContent() {
    var body = $(".dialog-body", dialogContent);
    if (!body) return;
    dialog.setAttribute("role", body.getAttribute("data-dialog-role") || "dialog");
    if ($("#dialog-description", body)) dialog.setAttribute("aria-describedby", "dialog-description");
    else dialog.removeAttribute("aria-describedby");
    enhanceDialogBody(body);
    if (!dialog.open) dialog.showModal();
    // An invalid field (or the form's error) first, else what the content
    // asks for, else the first control.
    var target =
      $('#token-form-error, [aria-invalid="true"]', body) ||
      $("[autofocus]", body) ||
      firstFocusable(body) ||
      $("#dialog-title", body);
    if (target && target.id === "dialog-title") target.setAttribute("tabindex", "-1");
    // htmx focuses [autofocus] itself when the swap settles, 20 ms later:
    // by then a quick keyboard user may have tabbed on, and focus would jump
    // back. Focus is placed here, once.
    $all("[autofocus]", body).forEach(function (el) {
      el.removeAttribute("autofocus");
    });
    if (target) target.focus();
  }

  function closeDialog() {
    if (dialog && dialog.open) dialog.close();
  }

  function onDialogClose() {
    var body = $(".dialog-body", dialogContent);
    var named = body && body.getAttribute("data-return-focus");
    var target = pendingFocus || (named && $(named)) || returnFocusTo;
    pendingFocus = null;
    returnFocusTo = null;
    // Secrets leave the page as soon as the dialog closes.
    dialogContent.innerHTML = "";
    focusElement(target);
  }

  function enhanceDialogBody(body) {
    $all("[data-copy]", body).forEach(function (button) {
      button.hidden = false;
    });
    $all("form[data-confirm-name]", body).forEach(function (form) {
      var expected = form.getAttribute("data-confirm-name");
      var input = $('input[name="confirm_name"]', form);
      var submit = $("[data-requires-name]", form);
      if (!input || !submit) return;
      var sync = function () {
        submit.disabled = input.value.trim() !== expected;
      };
      input.addEventListener("input", sync);
      sync();
    });
  }

  function copySecret(button) {
    var field = $(button.getAttribute("data-copy"));
    var status = $("[data-copy-status]", button.closest(".field") || document);
    if (!field) return;
    var done = function (ok) {
      if (status) {
        status.textContent = ok
          ? "Copied to the clipboard."
          : "Copying failed: select the token and copy it with your keyboard.";
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () {
          done(true);
        },
        function () {
          done(false);
        }
      );
    } else {
      field.focus();
      field.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      done(ok);
    }
  }

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      copySecret(copy);
      return;
    }
    if (event.target.closest("[data-close-dialog]")) closeDialog();
  });

  // ---------------------------------------------------------------------
  // htmx wiring
  // ---------------------------------------------------------------------

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!dialog || dialog.contains(elt)) return;
    var menu = elt.closest && elt.closest(".menu");
    if (menu) {
      returnFocusTo = $("[aria-haspopup]", menu);
    } else if (document.activeElement && document.activeElement !== document.body) {
      returnFocusTo = document.activeElement;
    } else {
      returnFocusTo = elt;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (dialogContent && event.detail.target === dialogContent) openDialogForContent();
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (dialogContent && event.detail.target === dialogContent) openDialogForContent();
  });

  document.addEventListener("htmx:load", function (event) {
    upgradeMenus(event.detail.elt);
  });

  // A row is about to go: focus its next neighbour's menu button, else the
  // previous one's, else the table caption.
  document.addEventListener("latchkey:row-deleted", onRowDeleted);

  function onRowDeleted(event) {
    var row = document.getElementById("row-" + event.detail.id);
    var target = null;
    if (row) {
      var walk = function (start, step) {
        for (var r = start; r; r = r[step]) {
          var b = $("[aria-haspopup]", r);
          if (b) return b;
        }
        return null;
      };
      target = walk(row.nextElementSibling, "nextElementSibling") ||
        walk(row.previousElementSibling, "previousElementSibling");
    }
    pendingFocus = target || fallbackFocus();
    if (dialog && dialog.open) closeDialog();
    else focusElement(pendingFocus);
  }

  document.addEventListener("latchkey:dialog-done", function (event) {
    var selector = event.detail && event.detail.focus;
    pendingFocus = (selector && $(selector)) || null;
    if (dialog && dialog.open) closeDialog();
    else focusElement(pendingFocus);
  });

  // Failures htmx does not swap (server errors, lost connections) are said
  // out loud rather than failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var code = event.detail.xhr.status;
    if (code === 401) return; // HX-Redirect to the sign-in page follows.
    announce("That did not work (error " + code + "). Nothing was changed. Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    announce("Latchkey could not be reached. Check your connection and try again.");
  });

  // Tab and Shift+Tab cycle inside the open dialog instead of leaving the
  // page (where focus would end up on <body>).
  function trapTab(event) {
    if (event.key !== "Tab") return;
    var focusables = $all(
      'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])',
      dialog
    ).filter(function (el) {
      return el.offsetParent !== null || el === document.activeElement;
    });
    if (!focusables.length) return;
    var first = focusables[0];
    var last = focusables[focusables.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  function init() {
    dialog = document.getElementById("dialog");
    dialogContent = document.getElementById("dialog-content");
    if (dialog) {
      dialog.addEventListener("close", onDialogClose);
      dialog.addEventListener("keydown", trapTab);
    }
    upgradeMenus(document);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
