// The pages of a linear exam (exam/linear_item.html, exam/linear_review.html). They work without
// this script; with it:
// - the form shows the saved answer after Back/Forward (not a state the browser restored),
// - a choice not yet saved is said so, and following a link of the page (答题卡, 检查并交卷)
//   saves it first (the form is posted with the link's target in "to"),
// (the countdown is static/exam.js's, as on every candidate page).
(function () {
  "use strict";
  window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });

  var form = document.getElementById("answer-form");
  if (form) {
    form.reset();  // the choices the server rendered (the saved answer), not restored form state
    form.elements.to.value = "";  // (a hidden input's value may be restored too)
    var saved = form.elements.was.value;
    var unsaved = document.getElementById("unsaved");
    var current = function () {
      return Array.prototype.filter.call(form.querySelectorAll("input[name=answer]"), function (i) { return i.checked; })
        .map(function (i) { return i.value; }).sort().join(",");
    };
    var dirty = function () { return current() !== saved; };
    form.addEventListener("change", function () { unsaved.hidden = !dirty(); });
    document.addEventListener("click", function (e) {
      var a = e.target.closest("a[href]");
      if (!a || !dirty()) return;
      var to = a.dataset.position || (a.getAttribute("href") === "/exam/review" ? "review" : "");
      if (!to) return;
      e.preventDefault();
      form.elements.to.value = to;
      form.submit();
    });
    var sent = false;
    form.addEventListener("submit", function (e) { if (sent) e.preventDefault(); sent = true; });
  }
})();
