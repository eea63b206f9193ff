// Draws the usage heatmap (weekday × week) with D3 from the page's embedded JSON
// (<script type="application/json" id="chart-data">, key named by data-source): one
// rect.cell per day, a sequential colour scale with its legend, and a tooltip per cell.
// The page lists the weekday averages as text, so nothing is lost without JavaScript.
// Needs charts.js (loaded first) for its byte formatting and tooltip.
(function () {
  "use strict";
  const holder = document.getElementById("chart-data");
  if (!holder || !window.d3 || !window.simfleetCharts) return;
  const data = JSON.parse(holder.textContent);

  const { bytes, tooltip } = window.simfleetCharts;
  const parseDay = d3.utcParse("%Y-%m-%d");
  const dayLabel = d3.utcFormat("%a, %b %-d, %Y");
  const weekLabel = d3.utcFormat("%b %-d");
  const count = d3.format(",");
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  const EMPTY = "#f1f5f9";


  function legend(svg, color, max, x0, y0, width) {
    const id = "heatmap-gradient";
    const g = svg.append("defs").append("linearGradient").attr("id", id);
    d3.range(0, 1.01, 0.25).forEach((t) => {
      g.append("stop").attr("offset", `${t * 100}%`).attr("stop-color", color(t * max));
    });
    const l = svg.append("g").attr("class", "heatmap-legend").attr("transform", `translate(${x0},${y0})`);
    l.append("text").attr("class", "legend-label").attr("x", 0).attr("y", 9).text("Less");
    l.append("rect").attr("class", "legend-bar").attr("x", 34).attr("y", 0).attr("width", width).attr("height", 10).attr("rx", 3)
      .attr("fill", `url(#${id})`);
    l.append("text").attr("class", "legend-label").attr("x", 40 + width).attr("y", 9).text(`More (max ${bytes(max)}/day)`);
  }

  function heatmap(el, cells) {
    d3.select(el).selectAll("svg").remove();
    const days = cells.map((c) => ({ ...c, day: parseDay(c.day), week: parseDay(c.week) }));
    const weeks = Array.from(new Set(cells.map((c) => c.week))).map(parseDay);
    const width = el.clientWidth || 600;
    const m = { top: 22, left: 38, bottom: 34 };
    // Short ranges get wide cells rather than a small grid in a wide card.
    const cellW = Math.max(8, Math.min(120, Math.floor((width - m.left) / Math.max(1, weeks.length))));
    const cellH = 26, gap = cellW > 14 ? 3 : 1;
    const gridW = cellW * weeks.length;
    const h = m.top + cellH * 7 + m.bottom;
    el.style.height = h + "px";
    const svg = d3.select(el).append("svg").attr("viewBox", [0, 0, width, h]).attr("preserveAspectRatio", "xMinYMin meet");
    const max = d3.max(days, (d) => d.data_total) || 1;
    const color = d3.scaleSequential([0, max], d3.interpolateRgb("#e0e7ff", "#3730a3"));
    const x = d3.scaleBand().domain(weeks.map(Number)).range([m.left, m.left + gridW]);
    const y = d3.scaleBand().domain([1, 2, 3, 4, 5, 6, 7]).range([m.top, m.top + cellH * 7]);

    svg.append("g").attr("class", "axis heatmap-days").selectAll("text").data([1, 3, 5, 7]).join("text")
      .attr("x", m.left - 8).attr("y", (d) => y(d) + cellH / 2).attr("dy", "0.35em").attr("text-anchor", "end")
      .text((d) => WEEKDAYS[d - 1]);
    const every = Math.max(1, Math.ceil(56 / cellW));
    svg.append("g").attr("class", "axis heatmap-weeks").selectAll("text").data(weeks.filter((w, i) => i % every === 0)).join("text")
      .attr("x", (d) => x(Number(d)) + gap / 2).attr("y", m.top - 8).text((d) => weekLabel(d));

    const tip = tooltip(el);
    svg.append("g").selectAll("rect").data(days).join("rect")
      .attr("class", "cell")
      .attr("data-day", (d) => d3.utcFormat("%Y-%m-%d")(d.day))
      .attr("x", (d) => x(Number(d.week)) + gap / 2).attr("y", (d) => y(d.weekday) + gap / 2)
      .attr("width", Math.max(1, cellW - gap)).attr("height", cellH - gap).attr("rx", Math.min(4, cellW / 4))
      .attr("fill", (d) => (d.data_total > 0 ? color(d.data_total) : EMPTY))
      .on("mousemove", (event, d) => {
        const [px, py] = d3.pointer(event, el);
        tip.hidden = false;
        tip.textContent = `${dayLabel(d.day)} · ${bytes(d.data_total)} · ${count(d.active_sims)} active SIMs`;
        tip.style.left = px + "px";
        tip.style.top = py + "px";
      })
      .on("mouseleave", () => { tip.hidden = true; });
    legend(svg, color, max, m.left, m.top + cellH * 7 + 14, Math.min(160, Math.max(80, gridW / 3)));
  }

  function drawAll() {
    document.querySelectorAll("[data-chart=heatmap]").forEach((el) => {
      const cells = data[el.dataset.source];
      if (!cells || !cells.length) return;
      heatmap(el, cells);
      el.setAttribute("data-drawn", "true");
    });
  }
  drawAll();
  let pending;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(drawAll, 150);
  });
})();
