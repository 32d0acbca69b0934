(function () {
  "use strict";
  var live = document.getElementById("live");
  var log = document.getElementById("requests");
  if (!window.EventSource) {
    live.textContent = "polling";
    setInterval(function () { location.reload(); }, 3000);
    return;
  }
  var events = new EventSource("/api/events");
  events.onopen = function () { live.textContent = "live"; };
  events.onerror = function () { live.textContent = "reconnecting…"; };
  events.addEventListener("delivered", function (e) {
    var data = JSON.parse(e.data);
    var box = document.getElementById("messages-" + data.robot_id);
    if (box) {
      box.insertAdjacentHTML("beforeend", data.html);
      box.scrollTop = box.scrollHeight;
    }
  });
  events.addEventListener("request", function (e) {
    log.insertAdjacentHTML("afterbegin", JSON.parse(e.data).html);
    var maxRows = parseInt(log.getAttribute("data-max-rows"), 10);
    while (log.rows.length > maxRows) { log.deleteRow(-1); }
  });
  events.addEventListener("reload", function () { location.reload(); });
  var boxes = document.querySelectorAll(".messages");
  for (var i = 0; i < boxes.length; i++) { boxes[i].scrollTop = boxes[i].scrollHeight; }
})();
