// Small behaviours of the staff pages, from a file: the pages' Content-Security-Policy runs no
// inline script but the hashed ones, and no javascript: link or onclick attribute.
document.addEventListener("click", function (e) {
  var el = e.target.closest("[data-action]");
  if (!el) return;
  if (el.dataset.action === "back") { e.preventDefault(); history.back(); }
  else if (el.dataset.action === "print") { e.preventDefault(); window.print(); }
});
