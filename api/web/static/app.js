// Progressive enhancement only: every page works without JavaScript.
// Moves keyboard focus to a form's error summary so a screen reader announces what to fix.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("fel");
  if (summary) {
    summary.focus();
  }
});

// Filter forms: leave empty fields out of the address, so a shared link shows only the filters in use.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.classList || !form.classList.contains("filters")) {
    return;
  }
  Array.prototype.forEach.call(form.elements, function (field) {
    if (field.name && field.value === "") {
      field.disabled = true;
    }
  });
});
