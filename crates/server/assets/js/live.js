// Keeps the overview's KPI tiles and its "Last sync runs" table current: every 30 s (and
// when the tab becomes visible again, or on a "simfleet:refresh" event) it reads the JSON
// named by [data-live] and updates the figures in place. Without JavaScript the page is
// simply as fresh as its last load.
(function () {
  "use strict";
  const root = document.querySelector("[data-live]");
  if (!root) return;
  const url = root.getAttribute("data-live");
  const PERIOD = 30000;
  const status = root.querySelector("[data-live-status]");

  const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];
  function bytes(n) {
    let v = Math.abs(n), u = 0;
    while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
    if (u === 0) return n + " B";
    return (n < 0 ? "-" : "") + (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " " + UNITS[u];
  }
  const count = new Intl.NumberFormat("en-US");
  function ago(iso) {
    const secs = (Date.now() - Date.parse(iso)) / 1000;
    if (secs < 60) return "just now";
    if (secs < 3600) return Math.floor(secs / 60) + " min ago";
    if (secs < 86400) return Math.floor(secs / 3600) + " h ago";
    return Math.floor(secs / 86400) + " d ago";
  }
  function lookup(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function updateTiles(kpis) {
    root.querySelectorAll("[data-kpi]").forEach((el) => {
      const v = lookup(kpis, el.getAttribute("data-kpi"));
      if (v == null) return;
      const text = el.getAttribute("data-format") === "bytes" ? bytes(v) : count.format(v);
      if (el.textContent !== text) {
        el.textContent = text;
        el.classList.add("updated");
        setTimeout(() => el.classList.remove("updated"), 1200);
      }
    });
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function updateJobs(jobs) {
    const body = document.querySelector("[data-live-jobs]");
    if (!body) return;
    const rows = jobs.map((r) => {
      const tr = document.createElement("tr");
      tr.appendChild(cell(r.label));
      const state = cell("");
      const badge = document.createElement("span");
      badge.className = "badge run-" + r.status;
      badge.textContent = r.status_label;
      state.appendChild(badge);
      tr.appendChild(state);
      const started = cell(ago(r.started_at));
      started.title = r.started_at;
      tr.appendChild(started);
      tr.appendChild(cell(count.format(r.items_ok), "num"));
      tr.appendChild(cell(count.format(r.items_failed), "num"));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  let busy = false;
  function refresh() {
    if (busy) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((data) => {
        updateTiles(data.kpis);
        updateJobs(data.jobs);
        root.setAttribute("data-refreshed", new Date().toISOString());
        if (status) status.textContent = "updated " + new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      })
      .catch(() => { if (status) status.textContent = "paused"; })
      .finally(() => { busy = false; });
  }

  setInterval(() => { if (!document.hidden) refresh(); }, PERIOD);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  document.addEventListener("simfleet:refresh", refresh);
})();
