// Confrère web inbox: small helps only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The count of new items in the tab's title, as mail readers do.
  var count = document.getElementById("new-count");
  if (count) {
    var n = parseInt(count.getAttribute("data-new"), 10);
    if (n > 0) {
      document.title = "(" + n + ") " + document.title;
    }
  }
});
