// "Select all on this page" also ticks (or unticks) every row's box, so the page shows what
// will be decided. Without this script the server reads the same box and decides every
// row of the page; unticking one row here unticks "all" so only the ticked rows count.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (!all) { return; }
  var rows = document.querySelectorAll('input[name="ids"][form="bulk"]');
  all.addEventListener("change", function () {
    rows.forEach(function (box) { box.checked = all.checked; });
  });
  rows.forEach(function (box) {
    box.addEventListener("change", function () { if (!box.checked) { all.checked = false; } });
  });
});
