// Draws the dashboard's charts with D3 from the JSON embedded in the page
// (<script type="application/json" id="chart-data">). Each chart element names its
// kind (data-chart) and its data set (data-source). Without JavaScript the page still
// shows every number as text; the charts are an addition.
(function () {
  "use strict";
  const holder = document.getElementById("chart-data");
  if (!holder || !window.d3) return;
  const data = JSON.parse(holder.textContent);

  const STATUS_COLORS = {
    AVAILABLE: "#3b82f6", RESERVED: "#f59e0b", ACTIVE: "#10b981",
    SUSPENDED: "#f97316", LOST_STOLEN: "#ef4444", TERMINATED: "#94a3b8",
  };
  const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"];
  function bytes(n) {
    let v = Math.abs(n), u = 0;
    while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
    const s = u === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v.toFixed(1);
    return (n < 0 ? "-" : "") + s + " " + UNITS[u];
  }
  const count = d3.format(",");
  const formats = { bytes: bytes, count: count };
  const parseDay = d3.utcParse("%Y-%m-%d");
  const dayLabel = d3.utcFormat("%b %-d, %Y");

  function tooltip(el) {
    let tip = el.querySelector(".chart-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.hidden = true;
      el.appendChild(tip);
    }
    return tip;
  }
  // Shared with the other chart scripts of a page (heatmap.js), which load after this one.
  window.simfleetCharts = { bytes, tooltip };

  function svgFor(el) {
    d3.select(el).selectAll("svg").remove();
    const w = el.clientWidth || 600, h = el.clientHeight || 240;
    const svg = d3.select(el).append("svg").attr("viewBox", [0, 0, w, h]).attr("preserveAspectRatio", "none");
    return { svg, w, h };
  }

  function gradient(svg, id, color) {
    const g = svg.append("defs").append("linearGradient").attr("id", id).attr("x1", 0).attr("x2", 0).attr("y1", 0).attr("y2", 1);
    g.append("stop").attr("offset", "0%").attr("stop-color", color).attr("stop-opacity", 0.28);
    g.append("stop").attr("offset", "100%").attr("stop-color", color).attr("stop-opacity", 0.02);
  }

  function donut(el, items) {
    const present = items.filter((d) => d.value > 0);
    const { svg, w, h } = svgFor(el);
    const r = Math.min(w, h) / 2 - 4;
    const g = svg.append("g").attr("transform", `translate(${w / 2},${h / 2})`);
    const total = d3.sum(present, (d) => d.value);
    const arcs = d3.pie().value((d) => d.value).sort(null).padAngle(present.length > 1 ? 0.015 : 0)(present);
    const arc = d3.arc().innerRadius(r * 0.66).outerRadius(r).cornerRadius(3);
    const tip = tooltip(el);
    g.selectAll("path.slice").data(arcs).join("path")
      .attr("class", "slice")
      .attr("data-status", (d) => d.data.key)
      .attr("fill", (d) => STATUS_COLORS[d.data.key] || "#6366f1")
      .attr("d", arc)
      .on("mousemove", (event, d) => {
        const [x, y] = d3.pointer(event, el);
        tip.hidden = false;
        tip.textContent = `${d.data.label}: ${count(d.data.value)} (${Math.round((d.data.value / total) * 100)}%)`;
        tip.style.left = x + "px";
        tip.style.top = y + "px";
      })
      .on("mouseleave", () => { tip.hidden = true; });
    if (present.length === 0) {
      g.append("circle").attr("r", r * 0.83).attr("fill", "none").attr("stroke", "#e4e8f0").attr("stroke-width", r * 0.34);
    }
    g.append("text").attr("class", "donut-total").attr("text-anchor", "middle").attr("dy", "0.1em").text(count(total));
    g.append("text").attr("class", "donut-caption").attr("text-anchor", "middle").attr("dy", "1.9em").text("SIMs");
  }

  // A time series: the value as an area and a line, optionally a moving average.
  function area(el, points, opts) {
    const fmt = formats[opts.format] || count;
    const series = points.map((p) => ({ day: parseDay(p.day), value: p.value, avg: opts.avg ? p[opts.avg] : null }));
    const { svg, w, h } = svgFor(el);
    const m = { top: 10, right: 12, bottom: 26, left: opts.format === "bytes" ? 64 : 40 };
    gradient(svg, "area-gradient", "#4f46e5");
    const x = d3.scaleUtc().domain(d3.extent(series, (d) => d.day)).range([m.left, w - m.right]);
    const y = d3.scaleLinear().domain([0, d3.max(series, (d) => Math.max(d.value, d.avg || 0)) || 1]).nice().range([h - m.bottom, m.top]);
    const yAxis = d3.axisLeft(y).ticks(4).tickFormat(fmt).tickSize(-(w - m.left - m.right));
    svg.append("g").attr("class", "axis grid").attr("transform", `translate(${m.left},0)`).call(yAxis).call((g) => g.select(".domain").remove());
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${h - m.bottom})`).call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(w / 110))).tickSizeOuter(0));
    const curve = d3.curveMonotoneX;
    svg.append("path").datum(series).attr("class", "area")
      .attr("d", d3.area().curve(curve).x((d) => x(d.day)).y0(y(0)).y1((d) => y(d.value)));
    svg.append("path").datum(series).attr("class", "line")
      .attr("d", d3.line().curve(curve).x((d) => x(d.day)).y((d) => y(d.value)));
    if (opts.avg) {
      svg.append("path").datum(series).attr("class", "avg")
        .attr("d", d3.line().curve(curve).x((d) => x(d.day)).y((d) => y(d.avg)));
    }
    // One invisible point per datum: hover targets, and a count that tests can check.
    svg.append("g").attr("class", "points").selectAll("circle").data(series).join("circle")
      .attr("class", "point").attr("r", 0).attr("cx", (d) => x(d.day)).attr("cy", (d) => y(d.value));
    hover(el, svg, series, x, y, m, h, (d) => `${dayLabel(d.day)} · ${fmt(d.value)}${d.avg != null ? " · avg " + fmt(d.avg) : ""}`);
  }

  function hover(el, svg, series, x, y, m, h, text) {
    const tip = tooltip(el);
    const focus = svg.append("g").style("display", "none");
    focus.append("line").attr("class", "focus-line").attr("y1", m.top).attr("y2", h - m.bottom);
    focus.append("circle").attr("class", "focus-dot").attr("r", 4);
    const bisect = d3.bisector((d) => d.day).center;
    svg.on("mousemove", (event) => {
      const [px] = d3.pointer(event);
      const d = series[bisect(series, x.invert(px))];
      if (!d) return;
      focus.style("display", null);
      focus.select("line").attr("x1", x(d.day)).attr("x2", x(d.day));
      focus.select("circle").attr("cx", x(d.day)).attr("cy", y(d.value));
      tip.hidden = false;
      tip.textContent = text(d);
      const rect = el.getBoundingClientRect(), box = svg.node().getBoundingClientRect();
      tip.style.left = ((x(d.day) / (svg.attr("viewBox").split(",")[2] || box.width)) * box.width + box.left - rect.left) + "px";
      tip.style.top = (y(d.value) / h) * box.height + "px";
    }).on("mouseleave", () => { focus.style("display", "none"); tip.hidden = true; });
  }

  function hbar(el, items) {
    const rows = items.slice(0, 12);
    const rowH = 30;
    el.style.height = rows.length * rowH + 8 + "px";
    const { svg, w } = svgFor(el);
    const labelW = Math.min(140, w * 0.42);
    const x = d3.scaleLinear().domain([0, d3.max(rows, (d) => d.value) || 1]).range([0, w - labelW - 56]);
    const g = svg.selectAll("g.row").data(rows).join("g").attr("class", "row").attr("transform", (d, i) => `translate(0,${i * rowH + 4})`);
    g.append("text").attr("class", "bar-label").attr("x", 0).attr("y", rowH / 2).attr("dy", "0.1em")
      .text((d) => (d.label.length > 20 ? d.label.slice(0, 19) + "…" : d.label));
    g.append("rect").attr("class", "bar").attr("x", labelW).attr("y", 6).attr("height", rowH - 14).attr("rx", 4)
      .attr("width", (d) => Math.max(2, x(d.value))).attr("opacity", (d) => (d.id == null ? 0.45 : 1));
    g.append("text").attr("class", "bar-value").attr("x", (d) => labelW + Math.max(2, x(d.value)) + 6).attr("y", rowH / 2).attr("dy", "0.1em")
      .text((d) => count(d.value));
  }

  // Counts per day as columns, one rect per day.
  function columns(el, points) {
    const series = points.map((p) => ({ day: parseDay(p.day), value: p.value }));
    const { svg, w, h } = svgFor(el);
    const m = { top: 10, right: 12, bottom: 26, left: 36 };
    const x = d3.scaleBand().domain(series.map((d) => d.day)).range([m.left, w - m.right]).paddingInner(0.25);
    const y = d3.scaleLinear().domain([0, d3.max(series, (d) => d.value) || 1]).nice().range([h - m.bottom, m.top]);
    svg.append("g").attr("class", "axis grid").attr("transform", `translate(${m.left},0)`)
      .call(d3.axisLeft(y).ticks(4).tickFormat(d3.format("~s")).tickSize(-(w - m.left - m.right)))
      .call((g) => g.select(".domain").remove());
    const time = d3.scaleUtc().domain(d3.extent(series, (d) => d.day)).range([m.left + x.bandwidth() / 2, w - m.right - x.bandwidth() / 2]);
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${h - m.bottom})`)
      .call(d3.axisBottom(time).ticks(Math.max(2, Math.floor(w / 110))).tickSizeOuter(0));
    const tip = tooltip(el);
    svg.append("g").selectAll("rect").data(series).join("rect")
      .attr("class", "bar col").attr("x", (d) => x(d.day)).attr("width", x.bandwidth())
      .attr("y", (d) => y(d.value)).attr("height", (d) => y(0) - y(d.value)).attr("rx", Math.min(2, x.bandwidth() / 2))
      .on("mousemove", (event, d) => {
        const [px, py] = d3.pointer(event, el);
        tip.hidden = false;
        tip.textContent = `${dayLabel(d.day)} · ${count(d.value)}`;
        tip.style.left = px + "px";
        tip.style.top = py + "px";
      })
      .on("mouseleave", () => { tip.hidden = true; });
  }

  // A SIM's usage: a focus chart and a context chart below whose brush zooms the focus.
  function usage(el, points, opts) {
    const series = points.map((p) => ({ day: parseDay(p.day), value: p.total, rx: p.rx, tx: p.tx }));
    const { svg, w, h } = svgFor(el);
    const m = { top: 10, right: 12, bottom: 82, left: 64 };
    const ctxTop = h - 54, ctxH = 36;
    gradient(svg, "area-gradient", "#4f46e5");
    const full = d3.extent(series, (d) => d.day);
    if (series.length === 1) full[1] = d3.utcDay.offset(full[0], 1);
    const x = d3.scaleUtc().domain(full).range([m.left, w - m.right]);
    const x2 = x.copy();
    const y = d3.scaleLinear().range([h - m.bottom, m.top]);
    const y2 = d3.scaleLinear().domain([0, d3.max(series, (d) => d.value) || 1]).range([ctxTop + ctxH, ctxTop]);
    svg.append("clipPath").attr("id", "usage-clip").append("rect").attr("x", m.left).attr("y", 0).attr("width", w - m.left - m.right).attr("height", h);
    const gy = svg.append("g").attr("class", "axis grid").attr("transform", `translate(${m.left},0)`);
    const gx = svg.append("g").attr("class", "axis").attr("transform", `translate(0,${h - m.bottom})`);
    const focus = svg.append("g").attr("clip-path", "url(#usage-clip)");
    const areaPath = focus.append("path").datum(series).attr("class", "area");
    const linePath = focus.append("path").datum(series).attr("class", "line");
    const bars = focus.append("g").attr("class", "points").selectAll("circle").data(series).join("circle").attr("class", "point").attr("r", series.length > 60 ? 0 : 3).attr("fill", "#4f46e5");
    const curve = opts.bucket === "day" ? d3.curveMonotoneX : d3.curveStepAfter;
    function draw(domain) {
      x.domain(domain);
      const visible = series.filter((d) => d.day >= domain[0] && d.day <= domain[1]);
      y.domain([0, d3.max(visible, (d) => d.value) || 1]).nice();
      gy.call(d3.axisLeft(y).ticks(4).tickFormat(bytes).tickSize(-(w - m.left - m.right))).call((g) => g.select(".domain").remove());
      gx.call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(w / 110))).tickSizeOuter(0));
      areaPath.attr("d", d3.area().curve(curve).x((d) => x(d.day)).y0(y(0)).y1((d) => y(d.value)));
      linePath.attr("d", d3.line().curve(curve).x((d) => x(d.day)).y((d) => y(d.value)));
      bars.attr("cx", (d) => x(d.day)).attr("cy", (d) => y(d.value));
    }
    const context = svg.append("g").attr("class", "context");
    context.append("path").datum(series).attr("class", "area").attr("d", d3.area().curve(curve).x((d) => x2(d.day)).y0(y2(0)).y1((d) => y2(d.value)));
    context.append("g").attr("class", "axis").attr("transform", `translate(0,${ctxTop + ctxH})`).call(d3.axisBottom(x2).ticks(Math.max(2, Math.floor(w / 140))).tickSizeOuter(0));
    const brush = d3.brushX().extent([[m.left, ctxTop], [w - m.right, ctxTop + ctxH]]).on("brush end", (event) => {
      draw(event.selection ? event.selection.map(x2.invert) : full);
    });
    context.append("g").attr("class", "brush").call(brush);
    draw(full);
    hover(el, svg, series, x, y, m, h, (d) => `${dayLabel(d.day)} · ${bytes(d.value)} (↓ ${bytes(d.rx)} ↑ ${bytes(d.tx)})`);
  }

  const kinds = { donut, area, hbar, usage, columns };
  function drawAll() {
    document.querySelectorAll("[data-chart]").forEach((el) => {
      const series = data[el.dataset.source];
      const draw = kinds[el.dataset.chart];
      if (series && draw) {
        draw(el, series, el.dataset);
        el.setAttribute("data-drawn", "true");
      }
    });
  }
  drawAll();
  let pending;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(drawAll, 150);
  });
})();
