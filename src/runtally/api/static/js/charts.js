// SVG charts of the overview: stacked bars and lines, optional log or right axis.
import { $, el } from "./dom.js";
import { fmtCompact, fmtInt, fmtMs, fmtMsAxis, fmtUsd, fmtUsdAxis } from "./format.js";
import { state } from "./state.js";

const COLORS = {
  ok: "#2f9e72", fail: "#d9534f", p50: "#3b82f6", p95: "#f59e0b", p99: "#d9534f",
  input: "#6366f1", cached: "#a5b4fc", output: "#14b8a6", cost: "#111827",
};
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function bucketLabel(date, granularity, spanDays) {
  const timeZone = state.tz;
  if (granularity === "day") return date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone });
  const time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", timeZone });
  if (spanDays > 1.01) return date.toLocaleDateString(undefined, { weekday: "short", timeZone }) + " " + time;
  return time;
}

// series: [{name, color, values, kind: "bar"|"line", axis: "left"|"right", stack?}]
export function drawChart(host, buckets, series, opts) {
  const width = Math.max(320, host.clientWidth || 600);
  const height = opts.height || 210;
  const m = { l: 56, r: opts.rightFormat ? 60 : 16, t: 10, b: 24 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const n = buckets.length;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": opts.label });
  const axes = { left: 0, right: 0 };
  const stacks = {};
  for (let i = 0; i < n; i++) {
    for (const se of series) {
      const v = se.values[i] || 0;
      if (se.stack) {
        const k = se.stack + ":" + i;
        stacks[k] = (stacks[k] || 0) + v;
        axes[se.axis || "left"] = Math.max(axes[se.axis || "left"], stacks[k]);
      } else {
        axes[se.axis || "left"] = Math.max(axes[se.axis || "left"], v);
      }
    }
  }
  const top = { left: niceMax(axes.left), right: niceMax(axes.right) };
  let y = (v, axis) => m.t + h - (h * v) / top[axis || "left"];
  let ticks = [0, 1, 2, 3, 4].map((g) => ({ v: (top.left * g) / 4, r: (top.right * g) / 4 }));
  if (opts.log) {
    // Latency tails span orders of magnitude: a log axis keeps p50 readable next to p99.
    // Ticks are time-shaped: 1/10/100 ms, 1 s, 10 s, 1 min, 10 min, 1 h, 1 d.
    const nice = [1, 10, 100, 1e3, 1e4, 6e4, 6e5, 36e5, 864e5];
    const positive = series.flatMap((q) => q.values).filter((v) => v > 0);
    const min = positive.length ? Math.min(...positive) : 1e3;
    const max = positive.length ? Math.max(...positive) : 1e4;
    const first = Math.max(0, nice.findLastIndex((c) => c <= min));
    let last = nice.findIndex((c) => c >= max);
    if (last < 0) last = nice.length - 1;
    ticks = nice.slice(first, Math.max(last, first + 1) + 1).map((v) => ({ v }));
    const lo = Math.log10(ticks[0].v);
    const hi = Math.log10(ticks[ticks.length - 1].v);
    y = (v) => m.t + h - (h * (Math.log10(Math.max(v, ticks[0].v)) - lo)) / (hi - lo);
  }
  const step = w / Math.max(n, 1);
  const x = (i) => m.l + step * i + step / 2;

  // grid and left/right axis labels
  ticks.forEach((t, g) => {
    const yy = y(t.v);
    svg.append(s("line", { x1: m.l, x2: m.l + w, y1: yy, y2: yy, class: g ? "grid" : "axis" }));
    svg.append(s("text", { x: m.l - 6, y: yy + 4, class: "tick", "text-anchor": "end" }, opts.leftFormat(t.v)));
    if (opts.rightFormat) {
      svg.append(s("text", { x: m.l + w + 6, y: yy + 4, class: "tick" }, opts.rightFormat(t.r)));
    }
  });
  // x labels: about one per 110 px
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(w / 110))));
  const spanDays = n ? (buckets[n - 1] - buckets[0]) / 86400e3 : 0;
  for (let i = 0; i < n; i += every) {
    svg.append(s("text", { x: x(i), y: height - 6, class: "tick", "text-anchor": "middle" }, bucketLabel(buckets[i], opts.granularity, spanDays)));
  }
  // bars (stacked per stack id)
  const bw = Math.max(1, Math.min(28, step * 0.72));
  const base = {};
  for (const se of series.filter((q) => q.kind === "bar")) {
    for (let i = 0; i < n; i++) {
      const v = se.values[i] || 0;
      if (!v) continue;
      const k = (se.stack || se.name) + ":" + i;
      const b = base[k] || 0;
      const y1 = y(b + v, se.axis);
      const y0 = y(b, se.axis);
      const rect = s("rect", { x: x(i) - bw / 2, y: y1, width: bw, height: Math.max(0.5, y0 - y1), fill: se.color, rx: 1.5 });
      rect.append(s("title", {}, bucketLabel(buckets[i], opts.granularity, 2) + " · " + se.name + ": " + se.format(v)));
      svg.append(rect);
      base[k] = b + v;
    }
  }
  // lines
  for (const se of series.filter((q) => q.kind === "line")) {
    let d = "";
    se.values.forEach((v, i) => {
      if (v == null) return;
      d += (d && se.values[i - 1] != null ? "L" : "M") + x(i).toFixed(1) + "," + y(v, se.axis).toFixed(1);
    });
    if (d) svg.append(s("path", { d, fill: "none", stroke: se.color, "stroke-width": 2, "stroke-linejoin": "round", "stroke-dasharray": se.dash || "" }));
    se.values.forEach((v, i) => {
      if (v == null || (v === 0 && n > 24)) return; // many empty buckets: a line, not dots
      const dot = s("circle", { cx: x(i), cy: y(v, se.axis), r: n > 60 ? 1.6 : 2.6, fill: se.color });
      dot.append(s("title", {}, bucketLabel(buckets[i], opts.granularity, 2) + " · " + se.name + ": " + se.format(v)));
      svg.append(dot);
    });
  }
  const legend = el("div", { class: "legend" }, ...series.map((se) =>
    el("span", {}, el("i", { style: "background:" + se.color }), se.name)));
  if (!series.some((se) => se.values.some((v) => v))) {
    svg.append(s("text", { x: m.l + w / 2, y: m.t + h / 2, class: "nodata", "text-anchor": "middle" }, "no runs in this range"));
  }
  host.replaceChildren(svg, legend);
}

/** The overview's three charts from its loaded data ``d`` (timeseries points). */
export function drawCharts(d) {
  if (!d) return;
  const pts = d.series.points;
  const buckets = pts.map((p) => new Date(p.bucket));
  // The buckets as the API labelled them (local offset included) and their runs, for
  // people and tests.
  Object.assign($("chart-runs").dataset, {
    buckets: pts.map((p) => p.bucket).join(" "), runs: pts.map((p) => p.runs).join(" "),
  });
  const g = d.granularity;
  drawChart($("chart-runs"), buckets, [
    { name: "succeeded", color: COLORS.ok, kind: "bar", stack: "runs", values: pts.map((p) => p.successes), format: fmtInt },
    { name: "failed", color: COLORS.fail, kind: "bar", stack: "runs", values: pts.map((p) => p.failures), format: fmtInt },
  ], { label: "runs and failures per bucket", leftFormat: fmtCompact, granularity: g });
  drawChart($("chart-latency"), buckets, [
    { name: "p50", color: COLORS.p50, kind: "line", values: pts.map((p) => p.latency_ms.p50), format: fmtMs },
    { name: "p95", color: COLORS.p95, kind: "line", values: pts.map((p) => p.latency_ms.p95), format: fmtMs },
    { name: "p99", color: COLORS.p99, kind: "line", values: pts.map((p) => p.latency_ms.p99), format: fmtMs, dash: "4 3" },
  ], { label: "latency percentiles per bucket (log scale)", leftFormat: fmtMsAxis, granularity: g, log: true });
  drawChart($("chart-tokens"), buckets, [
    { name: "input (uncached)", color: COLORS.input, kind: "bar", stack: "tok", values: pts.map((p) => p.tokens.input - p.tokens.cache_read), format: fmtInt },
    { name: "input (cache read)", color: COLORS.cached, kind: "bar", stack: "tok", values: pts.map((p) => p.tokens.cache_read), format: fmtInt },
    { name: "output", color: COLORS.output, kind: "bar", stack: "tok", values: pts.map((p) => p.tokens.output), format: fmtInt },
    { name: "cost (right axis)", color: COLORS.cost, kind: "line", axis: "right", values: pts.map((p) => p.cost_usd), format: fmtUsd },
  ], { label: "tokens and cost per bucket", leftFormat: fmtCompact, rightFormat: fmtUsdAxis, granularity: g, height: 230 });
}
