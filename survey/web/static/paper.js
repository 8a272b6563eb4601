// Paper entry by keyboard: a digit 1-4 in a score cell moves on to the next cell, and a
// second Enter does not send the sheet twice. The page works fully without this script.
(function () {
  var form = document.getElementById("sheet");
  if (!form) return;
  form.addEventListener("input", function (event) {
    var cell = event.target;
    if (!cell.classList.contains("score") || !/^[1-4]$/.test(cell.value)) return;
    var fields = Array.prototype.slice.call(
      form.querySelectorAll("input:not([type=hidden]), select, button"));
    var next = fields[fields.indexOf(cell) + 1];
    if (next) {
      next.focus();
      if (next.select) next.select();
    }
  });
  form.addEventListener("submit", function (event) {
    if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
  });
  var errors = document.getElementById("errors");
  if (errors) {
    var bad = form.querySelector("[aria-invalid=true]");
    if (bad) bad.focus();
  }
})();
