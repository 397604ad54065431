// Progressive enhancement only: every page works without JavaScript.
// Moves keyboard focus to a form's error summary so a screen reader announces what to fix.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("fel");
  if (summary) {
    summary.focus();
  }
});
