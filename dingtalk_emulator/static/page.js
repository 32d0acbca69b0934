(function () {
  "use strict";
  var live = document.getElementById("live");
  var log = document.getElementById("requests");
  var form = document.getElementById("composer");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = document.getElementById("c-text");
      var error = document.getElementById("c-error");
      var app = document.getElementById("c-app").value;
      var body = {
        user_id: document.getElementById("c-user").value,
        text: text.value,
        group: document.getElementById("c-conv").value || null,
        at_robot: document.getElementById("c-at").checked
      };
      error.textContent = "";
      fetch("/api/apps/" + encodeURIComponent(app) + "/chat", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) { error.textContent = answer.error; } else { text.value = ""; }
        });
      }).catch(function (err) { error.textContent = String(err); });
    });
  }
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
  events.addEventListener("app_entry", function (e) {
    var data = JSON.parse(e.data);
    var box = document.getElementById(data.dom);
    if (box) {
      box.insertAdjacentHTML("beforeend", data.html);
      box.scrollTop = box.scrollHeight;
    }
  });
  var appLog = document.getElementById("app-requests");
  events.addEventListener("app_request", function (e) {
    appLog.insertAdjacentHTML("afterbegin", JSON.parse(e.data).html);
    var maxRows = parseInt(appLog.getAttribute("data-max-rows"), 10);
    while (appLog.rows.length > maxRows) { appLog.deleteRow(-1); }
  });
  events.addEventListener("reload", function () { location.reload(); });
  var boxes = document.querySelectorAll(".messages");
  for (var i = 0; i < boxes.length; i++) { boxes[i].scrollTop = boxes[i].scrollHeight; }
})();
