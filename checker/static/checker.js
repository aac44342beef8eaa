// Small enhancements; everything works without this file.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Move focus to advice that cannot wait (a triage box), else to the error summary, else to
    // the page's heading, so screen reader and keyboard users start where the page's content
    // does (not at a link they cannot see from the previous page), and a phone shows it.
    // A link to a fragment keeps the browser's own behaviour.
    var target = document.querySelector(".triage[data-autofocus]") ||
      document.querySelector(".error-summary[data-autofocus]") ||
      document.querySelector("[data-autofocus]");
    var anchor = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (target && !anchor) {
      // Already in the upper half of the screen: the page stays where it starts (with its
      // heading in view); otherwise focusing scrolls the target into view.
      var top = target.getBoundingClientRect().top;
      target.focus({ preventScroll: top >= 0 && top < window.innerHeight / 2 });
    }
    // Links in the error summary move focus to the field, with its question in view.
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var input = document.getElementById(link.getAttribute("href").slice(1));
        if (!input) { return; }
        event.preventDefault();
        var group = input.closest(".field") || input;
        group.scrollIntoView();
        input.focus({ preventScroll: true });
      });
    });
    // Links drawn as buttons (role="button", as GOV.UK's start button) answer the Space key as
    // a button does; the key would otherwise scroll the page.
    document.querySelectorAll("a[role='button']").forEach(function (link) {
      link.addEventListener("keydown", function (event) {
        if (event.key === " ") { event.preventDefault(); }
      });
      link.addEventListener("keyup", function (event) {
        if (event.key === " ") { event.preventDefault(); link.click(); }
      });
    });
    // The camera check is offered after this page only to a browser that can run it: without
    // JavaScript or a camera nothing says it exists.
    var offering = document.querySelector("form[data-camera-offer]");
    if (offering && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.WebAssembly) {
      var offer = document.createElement("input");
      offer.type = "hidden";
      offer.name = "camera";
      offer.value = "offer";
      offering.append(offer);
    }
    document.querySelectorAll(".js-copy").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      var status = document.querySelector(".js-copied");
      if (!input || !navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(input.value).then(function () {
          if (status) { status.textContent = button.getAttribute("data-done") || "Copied."; }
        });
      });
    });
    document.querySelectorAll(".js-print").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
