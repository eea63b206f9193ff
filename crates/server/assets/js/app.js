// Small enhancements on top of pages that work without JavaScript.
(function () {
  "use strict";

  // Bulk selection on the SIM list: select all, a live count, highlighted rows.
  const table = document.getElementById("sim-table");
  if (table) {
    const all = table.querySelector("[data-select-all]");
    const boxes = () => Array.from(table.querySelectorAll('tbody input[name="iccid"]'));
    const label = document.querySelector("[data-bulk-count]");
    const bar = document.querySelector(".bulk-bar");
    const update = () => {
      const n = boxes().filter((b) => b.checked).length;
      boxes().forEach((b) => b.closest("tr").classList.toggle("selected", b.checked));
      if (label) label.textContent = n ? `${n} selected` : "Select SIMs for a bulk action";
      if (bar) bar.classList.toggle("active", n > 0);
      if (all) {
        all.checked = n > 0 && n === boxes().length;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    };
    if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
    table.addEventListener("change", (e) => { if (e.target.name === "iccid") update(); });
    update();
  }

  // Long operations (uploads, imports): show progress and prevent double submits.
  document.querySelectorAll("form[data-progress]").forEach((form) => {
    form.addEventListener("submit", () => {
      const note = form.querySelector(".progress-note");
      if (note) note.hidden = false;
      form.querySelectorAll('button[type="submit"]').forEach((b) => { b.disabled = true; });
    });
  });

  // Lifecycle action popovers: only one open at a time.
  const actions = document.querySelectorAll("details.action");
  actions.forEach((d) => d.addEventListener("toggle", () => {
    if (d.open) actions.forEach((o) => { if (o !== d) o.open = false; });
  }));
})();
