// Small behaviours htmx attributes can't express without eval (which our CSP forbids).
(function () {
  "use strict";

  // Styles that only make sense with this script (the phone's folded filters) key on this.
  document.documentElement.classList.add("js");

  // On a phone the audit filters fold behind one button; it opens and closes them.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-filters-toggle]");
    if (!toggle) return;
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    var target = document.getElementById(toggle.getAttribute("aria-controls"));
    if (target) target.classList.toggle("open", open);
  });

  // Escape inside an inline editor or the DNC reason prompt cancels it, sending nothing.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var form = event.target.closest && event.target.closest("[data-escape-cancel]");
    if (!form) return;
    var cancel = form.querySelector("[data-cancel]");
    if (cancel) {
      event.preventDefault();
      // A very quick Escape can land before htmx has wired up freshly swapped content; make
      // sure it has, so Cancel swaps the row instead of navigating away.
      if (window.htmx) window.htmx.process(form);
      cancel.click();
    }
  });

  // A moment is given on the person's own clock: a time zone field (the catalogue screen's, the
  // person's own choice) takes the browser's zone when nobody chose one (without script, the
  // dashboard's zone is used).
  document.querySelectorAll("input[data-browser-zone]").forEach(function (field) {
    if (field.value) return;
    try {
      field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      // an old browser: the dashboard's zone it is
    }
  });

  // Tell assistive technology which control is waiting on the server.
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    event.target.removeAttribute("aria-busy");
  });

  // The switches all submit the table's one form ("edits"). htmx learns which switch was pressed
  // by listening on it, which it starts doing only once a swapped-in row has settled; a key
  // pressed sooner would post without the switch's action. The browser always knows the
  // submitter, so take the action and the switch's own name and value from there.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id !== "edits") return;
    var trigger = event.detail.triggeringEvent;
    var submitter = trigger && trigger.submitter;
    if (!submitter || !submitter.getAttribute("formaction")) return;
    event.detail.path = submitter.getAttribute("formaction");
    event.detail.formData.set(submitter.name, submitter.value);
  });

  // While a switch's change is on its way, that row's switches are busy and refuse presses;
  // the row that comes back replaces them. They are marked aria-disabled rather than disabled,
  // because a disabled button drops keyboard focus, which then can't return to the new row.
  // Capture phase: a refused press must never reach htmx's own submit handler.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (event.target.id !== "edits" || !submitter) return;
    if (submitter.getAttribute("aria-disabled") === "true") {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    submitter.setAttribute("aria-busy", "true");
    submitter.closest("tbody").querySelectorAll(".switch").forEach(function (button) {
      button.setAttribute("aria-disabled", "true");
    });
  }, true);
  // If nothing comes back (an error), release them.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt.id !== "edits" || event.detail.successful) return;
    var submitter = event.detail.requestConfig.triggeringEvent.submitter;
    var row = submitter && document.body.contains(submitter) && submitter.closest("tbody");
    if (!row) return;
    submitter.removeAttribute("aria-busy");
    row.querySelectorAll(".switch").forEach(function (button) {
      button.removeAttribute("aria-disabled");
    });
  });

  // "Select all shown" ticks (or clears) every row checkbox of the bulk form.
  document.addEventListener("change", function (event) {
    if (!event.target.matches || !event.target.matches("[data-select-all]")) return;
    document.querySelectorAll('input[form="bulk"][name="codes"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  // A long table's next page replaces its "more" link. If the keyboard was on that link, it
  // moves to the first new row, so Tab carries on where the list now continues.
  var rowBeforeMore = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var link = event.detail.requestConfig && event.detail.requestConfig.elt;
    rowBeforeMore = null;
    if (link && link.hasAttribute("data-more") && document.activeElement === link) {
      rowBeforeMore = link.closest("tbody").previousElementSibling;
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    var first = rowBeforeMore && rowBeforeMore.nextElementSibling;
    rowBeforeMore = null;
    var control = first && first.querySelector("a, button, input");
    if (control) control.focus();
  });

  // The audit filters send only the fields in use, so the address bar shows just those.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id !== "filters") return;
    var data = event.detail.formData;
    Array.from(data.keys()).forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
    });
  });

  // Feedback that doesn't pile up: a message clears itself after a while (or when dismissed),
  // and a row's "Saved" line goes at the next action or after a few seconds.
  var TOAST_MS = 8000, SAVED_MS = 6000, toastTimer = null;
  function clearToast() {
    var region = document.getElementById("toast");
    if (region) region.replaceChildren();
  }
  function watchToast() {
    var region = document.getElementById("toast");
    if (!region) return;
    var arm = function () {
      clearTimeout(toastTimer);
      if (region.childNodes.length) toastTimer = setTimeout(clearToast, TOAST_MS);
    };
    new MutationObserver(arm).observe(region, { childList: true, subtree: true });
    arm();
  }
  function fadeSaved() {
    document.querySelectorAll("tr.row-message.ok:not([data-fading])").forEach(function (line) {
      line.setAttribute("data-fading", "");
      setTimeout(function () { line.remove(); }, SAVED_MS);
    });
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-toast-close]")) clearToast();
  });
  document.addEventListener("htmx:beforeRequest", function () {
    document.querySelectorAll("tr.row-message.ok").forEach(function (line) { line.remove(); });
  });
  document.addEventListener("htmx:afterSettle", fadeSaved);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watchToast(); fadeSaved(); });
  } else {
    watchToast();
    fadeSaved();
  }

  // The create form's colour: a picker beside the hex field, each filling in the other, and
  // "No colour" setting both aside. Without JavaScript the hex field alone does the job.
  var HEX = /^#?([0-9a-fA-F]{6})$/;
  function wireColour() {
    document.querySelectorAll("[data-color-for]:not([data-wired])").forEach(function (picker) {
      var text = document.getElementById(picker.getAttribute("data-color-for"));
      var none = picker.form && picker.form.elements.namedItem("no_color");
      if (!text) return;
      picker.setAttribute("data-wired", "");
      picker.hidden = false;
      var fromText = function () {
        var match = HEX.exec(text.value.trim());
        if (match) picker.value = "#" + match[1].toLowerCase();
      };
      var fromNone = function () {
        text.disabled = picker.disabled = !!(none && none.checked);
      };
      fromText();
      fromNone();
      text.addEventListener("input", fromText);
      picker.addEventListener("input", function () { text.value = picker.value.toUpperCase(); });
      if (none) none.addEventListener("change", fromNone);
    });
  }
  // An error summary's link moves the keyboard to the field, not just the view.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-focus-field]");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    field.focus();
  });
  document.addEventListener("htmx:afterSettle", wireColour);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wireColour);
  } else {
    wireColour();
  }

  // When the dashboard itself can't be reached or fails, say so instead of doing nothing.
  function toast(text) {
    var region = document.getElementById("toast");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = text;
    region.replaceChildren(p);
  }
  document.addEventListener("htmx:sendError", function () {
    toast("The dashboard could not be reached. Check your connection; nothing was changed.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 403) {
      toast("You don't have permission to do that.");
    } else if (status === 400) {
      toast("That request wasn't understood; nothing was changed. Reload the page and try again.");
    } else {
      toast("Something went wrong on the dashboard (HTTP " + status + "). Reload the page and try again.");
    }
  });
})();
