// Drawing: time series, step curves with bands and histograms through uPlot (embedded, global
// `uPlot`), and the plain-HTML pieces a chart library would only make worse: rates with their
// intervals, bars of a few categories, the cohort heatmap, tables.
import { DASH } from "./format.js";

// Okabe & Ito's palette: told apart with every common form of colour blindness.
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
export const colour = (i) => PALETTE[i % PALETTE.length];

function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(e.style, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const HEIGHT = 240;

// Every chart follows its container's width; one observer for all of them.
const sized = new Map();
const observer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const chart = sized.get(entry.target);
    const width = Math.floor(entry.contentRect.width);
    if (chart && width > 0 && Math.abs(chart.width - width) > 1) chart.setSize({ width, height: chart.height });
  }
});

function mount(target, opts, data) {
  const box = el("div", { class: "chart" });
  target.append(box);
  const width = Math.max(240, Math.floor(target.clientWidth || box.clientWidth || 600));
  const chart = new uPlot({ width, height: HEIGHT, ...opts }, data, box);
  sized.set(box, chart);
  observer.observe(box);
  // Forget charts whose panel is gone (views are redrawn on every filter change).
  for (const [b, c] of sized) {
    if (!b.isConnected && b !== box) {
      observer.unobserve(b);
      c.destroy();
      sized.delete(b);
    }
  }
  return chart;
}

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

// Lines over time. x: seconds since the epoch; series: [{label, values, format?, axis?: "right"}].
export function timeChart(target, x, series, { format = (v) => String(v), rightFormat } = {}) {
  const right = series.some((s) => s.axis === "right");
  const opts = {
    tzDate: utc,
    scales: { x: { time: true }, y: {}, ...(right ? { r: {} } : {}) },
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        scale: s.axis === "right" ? "r" : "y",
        stroke: colour(s.colour ?? i),
        width: 2,
        dash: s.axis === "right" ? [6, 4] : undefined,
        points: { show: x.length < 40 },
        value: (u, v) => (v === null || v === undefined ? DASH : (s.axis === "right" ? rightFormat : format)(v)),
      })),
    ],
    axes: [
      {},
      { values: (u, vals) => vals.map(format), size: 70 },
      ...(right ? [{ scale: "r", side: 1, grid: { show: false }, values: (u, vals) => vals.map(rightFormat), size: 70 }] : []),
    ],
  };
  return mount(target, opts, [x, ...series.map((s) => s.values)]);
}

// Step curves starting at 1 with their confidence bands (survival). curves: [{label, t, s, lo, hi}]
// with t in days, each on its own times: merged onto one axis, each curve held until its last time.
export function survivalChart(target, curves) {
  const times = [...new Set([0, ...curves.flatMap((c) => c.t)])].sort((a, b) => a - b);
  const data = [times];
  const series = [{}];
  const bands = [];
  curves.forEach((c, i) => {
    const last = c.t.length ? c.t[c.t.length - 1] : 0;
    const hold = (values, start) => {
      let j = -1;
      return times.map((t) => {
        while (j + 1 < c.t.length && c.t[j + 1] <= t) j++;
        if (t > last) return null;
        return j < 0 ? start : values[j];
      });
    };
    const base = data.length;
    data.push(hold(c.s, 1), hold(c.hi, 1), hold(c.lo, 1));
    const stroke = colour(i);
    const step = uPlot.paths.stepped({ align: 1 });
    series.push(
      { label: c.label, stroke, width: 2, paths: step, points: { show: false }, value: (u, v) => (v === null ? DASH : `${(100 * v).toFixed(1)} %`) },
      { label: `${c.label} upper`, stroke: fade(stroke, 0.25), width: 1, paths: step, points: { show: false }, value: () => "" },
      { label: `${c.label} lower`, stroke: fade(stroke, 0.25), width: 1, paths: step, points: { show: false }, value: () => "" },
    );
    bands.push({ series: [base + 1, base + 2], fill: fade(stroke, 0.12) });
  });
  const opts = {
    scales: { x: { time: false }, y: { range: [0, 1] } },
    series,
    bands,
    legend: { show: true },
    axes: [
      { values: (u, vals) => vals.map((v) => `${v} d`) },
      { values: (u, vals) => vals.map((v) => `${Math.round(100 * v)} %`), size: 60 },
    ],
  };
  const chart = mount(target, opts, data);
  // The band edges clutter the legend: keep only the curves in it.
  chart.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
    if (i > 0 && (i - 1) % 3 !== 0) row.style.display = "none";
  });
  return chart;
}

// Vertical bars over named categories (a histogram of fixed bins).
export function categoryBars(target, labels, values, { format = String, name = "count" } = {}) {
  const x = labels.map((_, i) => i);
  const opts = {
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    series: [
      { value: (u, v) => labels[v] ?? "" },
      { label: name, stroke: colour(0), fill: fade(colour(0), 0.6), paths: uPlot.paths.bars({ size: [0.7, 80] }), points: { show: false }, value: (u, v) => (v === null ? DASH : format(v)) },
    ],
    axes: [
      { splits: () => x, values: (u, vals) => vals.map((v) => labels[v] ?? "") },
      { values: (u, vals) => vals.map(format), size: 60 },
    ],
  };
  return mount(target, opts, [x, values]);
}

// Rates with their 95 % intervals, one row each: a dot, a whisker, the numbers in words.
// rows: [{label, rate, lo, hi, num, den}]
export function intervals(rows, { format }) {
  const list = el("div", { class: "intervals", role: "list" });
  for (const r of rows) {
    const pct = (v) => `${Math.max(0, Math.min(1, v ?? 0)) * 100}%`;
    const track = el(
      "div",
      { class: "track", "aria-hidden": "true" },
      r.lo !== null && r.hi !== null ? el("span", { class: "whisker", style: { left: pct(r.lo), width: `calc(${pct(r.hi)} - ${pct(r.lo)})` } }) : null,
      r.rate !== null ? el("span", { class: "dot", style: { left: pct(r.rate) } }) : null,
    );
    const words = r.rate === null
      ? `${DASH} (no ${r.den === 0 ? "cases" : "data"})`
      : `${format(r.rate)} (95 % CI ${format(r.lo).replace(" %", "")}–${format(r.hi)}), ${r.num.toLocaleString("en-US")} of ${r.den.toLocaleString("en-US")}`;
    list.append(el("div", { class: "interval", role: "listitem" }, el("span", { class: "name", text: r.label }), track, el("span", { class: "value", text: words })));
  }
  return list;
}

// Horizontal bars for a handful of named counts.
export function bars(rows, { format = (v) => v.toLocaleString("en-US") } = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const list = el("div", { class: "bars", role: "list" });
  rows.forEach((r, i) => {
    list.append(el("div", { class: "bar", role: "listitem" },
      el("span", { class: "name", text: r.label }),
      el("span", { class: "track", "aria-hidden": "true" }, el("span", { class: "fill", style: { width: `${(100 * r.value) / max}%`, background: colour(r.colour ?? i) } })),
      el("span", { class: "value", text: format(r.value) })));
  });
  return list;
}

// Cohort retention as a table whose cells shade from light (0) to dark blue (1) - one hue, so
// it reads the same in every form of colour blindness - with the rate printed in each cell.
export function heatmap(cohorts, offsets, { cohortLabel, format }) {
  const head = el("tr", {}, el("th", { scope: "col", text: "cohort" }), el("th", { scope: "col", text: "size" }),
    ...offsets.map((o) => el("th", { scope: "col", text: `+${o}` })));
  const body = cohorts.map((c) => el("tr", {}, el("th", { scope: "row", text: cohortLabel(c.cohort) }), el("td", { class: "num", text: c.size.toLocaleString("en-US") }),
    ...offsets.map((o) => {
      const rate = c.rates.get(o);
      if (rate === undefined || rate === null) return el("td", { class: "empty", text: "" });
      const light = 96 - Math.round(66 * rate);
      return el("td", { class: "heat", style: { background: `hsl(210, 70%, ${light}%)`, color: light < 60 ? "#fff" : "#111" }, text: format(rate) });
    })));
  return el("div", { class: "scroll" }, el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, body)));
}

// columns: [{title, get: row => text or Node, num?: true}]
export function table(columns, rows, { caption } = {}) {
  return el("div", { class: "scroll" }, el("table", {},
    caption ? el("caption", { text: caption }) : null,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null, text: c.title })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, columns.map((c) => {
      const v = c.get(r);
      return el("td", { class: c.num ? "num" : null }, v === null || v === undefined ? DASH : v);
    }))))));
}
