// Progress and double-submit protection; the form works fully without this script.
(function () {
  var form = document.getElementById("survey");
  if (!form) return;
  var groups = form.querySelectorAll("fieldset.q");
  var box = document.getElementById("progress");
  var bar = box.querySelector("progress");
  var text = box.querySelector("span");
  function update() {
    var done = 0;
    for (var i = 0; i < groups.length; i++) {
      if (groups[i].querySelector("input:checked")) done++;
    }
    bar.value = done;
    text.textContent = box.getAttribute("data-template").replace("{n}", done);
  }
  box.hidden = false;
  form.addEventListener("change", update);
  update();
  form.addEventListener("submit", function (event) {
    if (document.body.classList.contains("kiosk-app")) return;  // kiosk.js keeps it
    if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = form.getAttribute("data-sending");
  });
  var errors = document.getElementById("errors");
  if (errors) errors.focus();
  if (document.body.classList.contains("kiosk")) {
    document.addEventListener("click", function () {
      var root = document.documentElement;
      if (!document.fullscreenElement && root.requestFullscreen) {
        root.requestFullscreen().catch(function () {});
      }
    }, { once: true });
  }
})();
