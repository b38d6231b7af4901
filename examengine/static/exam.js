// Behaviours shared by every candidate page (exam/base.html). The pages work without this script;
// with it:
// - the countdown (#timer) runs silently: it is not a live region. Screen readers hear the time
//   only in #announce (a polite live region) at 15, 5 and 1 minute left; the end time is text.
// - Enter on a choice of an adaptive item (a form marked data-enter="none") never submits it
//   (a linear item's Enter saves, which hands nothing in: its first button is 保存答案);
// - the font-size buttons (A- / A+) change the size here without a reload (a cookie keeps it;
//   without the script the same links go to /exam/font, which sets it and comes back);
// - at zero the page asks the server what comes next (data-expire).
(function () {
  "use strict";
  var SIZES = [100, 125, 150, 175, 200];

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key === "Enter" && t && t.matches && t.matches("form[data-enter=none] input[type=radio], form[data-enter=none] input[type=checkbox]")) {
      e.preventDefault();
    }
  });

  // An adaptive item: show the choices the server rendered (none, or those of 返回修改), never a
  // state the browser restored into a page of the same shape after Back; one submit only.
  var item = document.querySelector("form[data-enter=none]");
  if (item) {
    item.reset();
    window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });
  }
  var once = document.querySelectorAll("form[data-once]");
  Array.prototype.forEach.call(once, function (f) {
    var sent = false;
    f.addEventListener("submit", function (e) { if (sent) e.preventDefault(); sent = true; });
  });

  var font = document.getElementById("font-form");
  if (font) {
    font.addEventListener("click", function (e) {
      var b = e.target.closest("a[data-font]");
      if (!b) return;
      e.preventDefault();
      var now = Math.round(parseFloat(getComputedStyle(document.documentElement).fontSize) / 16 * 100);
      var level = SIZES.indexOf(now);
      if (level < 0) level = 0;
      level = Math.max(0, Math.min(SIZES.length - 1, level + (b.dataset.font === "up" ? 1 : -1)));
      document.cookie = "ee_font=" + level + "; path=/exam; max-age=86400; samesite=strict";
      document.documentElement.style.fontSize = SIZES[level] + "%";
    });
  }

  // The approval wait (exam/wait.html): ask in the background, go on once the answer is another page.
  var poll = document.querySelector("[data-poll]");
  if (poll) {
    var check = function () {
      fetch(poll.dataset.poll, {credentials: "same-origin"}).then(function (r) {
        var path = new URL(r.url).pathname;
        if (path !== poll.dataset.poll) window.location.href = r.url; else setTimeout(check, 5000);
      }).catch(function () { setTimeout(check, 5000); });
    };
    setTimeout(check, 5000);
  }

  var el = document.getElementById("timer");
  if (!el || !el.dataset.left) return;
  var announce = document.getElementById("announce");
  var end = Date.now() + parseInt(el.dataset.left, 10) * 1000;
  var said = {};
  var left0 = parseInt(el.dataset.left, 10);
  [15, 5, 1].forEach(function (m) { if (left0 <= m * 60) said[m] = true; });  // said by the server already
  var clock = el.querySelector(".left") || el;
  function tick() {
    var s = Math.max(0, Math.round((end - Date.now()) / 1000));
    clock.textContent = "剩余 " + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    if (s <= 300) el.classList.add("low");
    [15, 5, 1].forEach(function (m) {
      if (s <= m * 60 && s > 0 && !said[m]) {
        said[m] = true;
        if (announce) announce.textContent = "考试剩余时间不足 " + m + " 分钟。";
      }
    });
    if (s <= 0) { window.location.href = el.dataset.expire || "/exam/item"; return; }
    setTimeout(tick, 1000);
  }
  tick();
})();
