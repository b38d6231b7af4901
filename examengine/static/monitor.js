// The proctor's live monitor (proctor/exam.html). Every data-refresh-seconds it fetches the live
// part of the page (data-live-url: the counts, the attempts table's rows, the recent sign-ins) as
// an HTML fragment rendered by the server, and puts each [data-live] element in place of the
// page's element of the same name. The page itself is never reloaded, and nothing the proctor is
// typing is touched: a table cell (or a whole part) that holds the focused element or a field whose
// value differs from the one the server rendered is left exactly as it is. Without this script the
// page still works: its 刷新 link reloads it.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-url]");
  if (!root || !window.fetch || !window.DOMParser) return;
  var url = root.getAttribute("data-live-url");
  var seconds = parseFloat(root.getAttribute("data-refresh-seconds"));
  if (!(seconds > 0)) seconds = 20;
  var status = document.getElementById("live-status");
  var timer = null;
  var running = false;

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.type === "file") return field.value !== "";
    if (field.tagName === "SELECT") {
      for (var i = 0; i < field.options.length; i++) {
        if (field.options[i].selected !== field.options[i].defaultSelected) return true;
      }
      return false;
    }
    return field.value !== field.defaultValue;
  }

  // Whether the proctor is busy in el: it holds the focus, or a field changed from its rendered value.
  function busy(el) {
    var active = document.activeElement;
    if (active && active !== document.body && el.contains(active)) return true;
    var fields = el.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      if (changed(fields[i])) return true;
    }
    return false;
  }

  function rowsOf(body) {
    var out = [];
    for (var i = 0; i < body.children.length; i++) {
      if (body.children[i].tagName === "TR") out.push(body.children[i]);
    }
    return out;
  }

  // A row of the page takes the new row's cells, except the cells the proctor is busy in.
  function mergeRow(old, fresh) {
    var cells = old.children, news = fresh.children;
    if (cells.length !== news.length) return busy(old) ? old : fresh;
    for (var i = news.length - 1; i >= 0; i--) {
      if (!busy(cells[i])) old.replaceChild(news[i], cells[i]);
    }
    return old;
  }

  // The attempts table: rows matched by data-key; new rows appear, rows gone disappear (unless busy).
  function mergeRows(body, freshBody) {
    var byKey = {};
    rowsOf(body).forEach(function (tr) { byKey[tr.getAttribute("data-key")] = tr; });
    var wanted = rowsOf(freshBody).map(function (tr) {
      var key = tr.getAttribute("data-key");
      var old = byKey[key];
      delete byKey[key];
      return old ? mergeRow(old, tr) : tr;
    });
    Object.keys(byKey).forEach(function (key) {
      if (busy(byKey[key])) wanted.push(byKey[key]);
      else body.removeChild(byKey[key]);
    });
    // put the rows in order, moving only rows that are out of place (a busy row stays put)
    var next = body.firstElementChild;
    wanted.forEach(function (tr) {
      if (tr === next) next = next.nextElementSibling;
      else body.insertBefore(tr, next);
    });
  }

  function apply(doc) {
    var parts = doc.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var name = parts[i].getAttribute("data-live");
      var here = root.ownerDocument.querySelector('[data-live="' + name + '"]');
      if (!here) continue;
      if (name === "rows") mergeRows(here, parts[i]);
      else if (!busy(here)) here.innerHTML = parts[i].innerHTML;
    }
  }

  function say(text, bad) {
    if (!status) return;
    status.textContent = text;
    status.className = bad ? "bad" : "muted";
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }

  function refresh() {
    if (running) return;
    if (document.hidden) { schedule(); return; }
    running = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.redirected || !resp.ok) throw new Error(String(resp.status));
        return resp.text();
      })
      .then(function (text) {
        apply(new DOMParser().parseFromString(text, "text/html"));
        say("考生状态表每 " + seconds + " 秒自动更新，正在输入的内容不受影响。", false);
        root.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () {
        say("自动更新失败（网络中断或登录已过期），请点“刷新”。", true);
      })
      .then(function () { running = false; schedule(); });
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  schedule();
})();
