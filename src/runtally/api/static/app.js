// runtally dashboard: plain JS, no dependencies, no external requests.
// Reads /v1/summary, /v1/timeseries and /v1/breakdown with the API key kept in localStorage
// (or given once as #key=... in the URL), draws SVG charts, refreshes every 30 s while
// the tab is visible.
"use strict";

const KEY_STORE = "runtally.key";
const STATE_STORE = "runtally.view";
const REFRESH_MS = 30000;
const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const COLORS = {
  ok: "#2f9e72", fail: "#d9534f", p50: "#3b82f6", p95: "#f59e0b", p99: "#d9534f",
  input: "#6366f1", cached: "#a5b4fc", output: "#14b8a6", cost: "#111827",
};

const $ = (id) => document.getElementById(id);
const state = {
  key: null,
  range: "24h",
  customFrom: null,
  customTo: null,
  agent: "",
  model: "",
  timer: null,
  inflight: null,
  last: null,
  known: { agent: new Set(), model: new Set() },
};

// ---------------------------------------------------------------- formatting
const nf = new Intl.NumberFormat("en-US");
function fmtInt(n) { return n == null ? "–" : nf.format(n); }
function fmtCompact(n) {
  if (n == null) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
  return String(Math.round(n * 100) / 100);
}
function fmtMs(ms) {
  if (ms == null) return "–";
  if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  return ms.toFixed(0) + " ms";
}
function fmtMsAxis(ms) {
  if (ms >= 864e5) return +(ms / 864e5).toFixed(1) + " d";
  if (ms >= 36e5) return +(ms / 36e5).toFixed(1) + " h";
  if (ms >= 60000) return +(ms / 60000).toFixed(1) + " min";
  if (ms >= 1000) return +(ms / 1000).toFixed(1) + " s";
  return +ms.toFixed(1) + " ms";
}
function fmtPct(x) { return x == null ? "–" : (x * 100).toFixed(1) + "%"; }
function fmtUsd(x) {
  if (x == null) return "–";
  if (x > 0 && x < 0.01) return "$" + x.toFixed(4);
  return "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
function fmtUsdAxis(x) {
  if (x === 0) return "$0";
  if (x >= 100) return "$" + fmtCompact(x);
  return "$" + x.toFixed(x < 0.1 ? 4 : 2);
}

function setValue(id, text, raw) {
  const el = $(id);
  el.textContent = text;
  if (raw !== undefined) el.dataset.value = raw == null ? "" : String(raw);
}

// ---------------------------------------------------------------- key handling
// The URL fragment may carry the key and a view: #key=rt_...&range=7d&agent=a&model=m
// (never sent to the server). It is applied once, then removed from the address bar.
function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (![...params.keys()].length) return null;
  history.replaceState(null, "", location.pathname + location.search); // keep the key out of history
  const range = params.get("range");
  if (range && range in RANGES) state.range = range;
  for (const kind of ["agent", "model"]) if (params.has(kind)) state[kind] = params.get(kind);
  if (params.has("range") || params.has("agent") || params.has("model")) saveView();
  return params.get("key");
}

function showLogin(message) {
  stopTimer();
  $("dashboard").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-key").focus();
}

function showDashboard() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
}

// ---------------------------------------------------------------- API
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: { Authorization: "Bearer " + state.key } });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).message || message; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return res.json();
}

function currentRange() {
  if (state.range === "custom" && state.customFrom && state.customTo) {
    return { from: new Date(state.customFrom), to: new Date(state.customTo) };
  }
  const to = new Date(Math.floor(Date.now() / 1000) * 1000);
  return { from: new Date(to - RANGES[state.range in RANGES ? state.range : "24h"]), to };
}

async function load() {
  const { from, to } = currentRange();
  const span = to - from;
  const granularity = span > 7 * 86400e3 ? "day" : "hour";
  const base = { from: from.toISOString(), to: to.toISOString(), agent: state.agent, model: state.model };
  const [summary, series, byAgent, byModel, byError, byUser] = await Promise.all([
    api("/v1/summary", base),
    api("/v1/timeseries", { ...base, granularity }),
    api("/v1/breakdown", { ...base, by: "agent" }),
    api("/v1/breakdown", { ...base, by: "model" }),
    api("/v1/breakdown", { ...base, by: "error_type" }),
    api("/v1/breakdown", { ...base, by: "user", limit: "10" }),
  ]);
  return { summary, series, byAgent, byModel, byError, byUser, granularity, from, to };
}

async function refresh() {
  if (!state.key || document.hidden) return;
  if (state.inflight) return state.inflight;
  $("status").textContent = "loading…";
  $("status").className = "status";
  state.inflight = load()
    .then((data) => {
      state.last = data;
      render(data);
      $("status").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "true";
    })
    .catch((err) => {
      if (err instanceof ApiError && err.status === 401) {
        localStorage.removeItem(KEY_STORE);
        state.key = null;
        showLogin("That key was refused: " + err.message);
        return;
      }
      $("status").textContent = "could not load: " + err.message;
      $("status").className = "status error";
    })
    .finally(() => { state.inflight = null; });
  return state.inflight;
}

function startTimer() {
  stopTimer();
  if (!document.hidden) state.timer = setInterval(refresh, REFRESH_MS);
}
function stopTimer() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---------------------------------------------------------------- rendering
function render(d) {
  renderKpis(d.summary);
  $("project").textContent = d.summary.project;
  const opts = { dateStyle: "medium", timeStyle: "short" };
  $("range-label").textContent =
    d.from.toLocaleString(undefined, opts) + " → " + d.to.toLocaleString(undefined, opts) +
    " · " + d.granularity + "ly buckets" +
    (state.agent ? " · agent " + state.agent : "") + (state.model ? " · model " + state.model : "");
  rememberKeys(d.byAgent.rows, "agent");
  rememberKeys(d.byModel.rows, "model");
  drawCharts();
  renderTable("table-agent", "agent", d.byAgent.rows, d.summary);
  renderTable("table-model", "model", d.byModel.rows, d.summary);
  renderTable("table-error_type", "error type", d.byError.rows, d.summary);
  renderTable("table-user", "user", d.byUser.rows, d.summary);
}

function renderKpis(s) {
  const lat = s.latency_ms;
  setValue("kpi-runs", fmtInt(s.runs), s.runs);
  setValue("kpi-runs-sub", fmtInt(s.successes) + " succeeded");
  setValue("kpi-success-rate", fmtPct(s.success_rate), s.success_rate);
  setValue("kpi-failures", fmtInt(s.failures) + " failed", s.failures);
  setValue("kpi-p50", fmtMs(lat.p50), lat.p50);
  setValue("kpi-avg", "avg " + fmtMs(lat.avg));
  setValue("kpi-p95", fmtMs(lat.p95), lat.p95);
  setValue("kpi-p90", "p90 " + fmtMs(lat.p90));
  setValue("kpi-p99", fmtMs(lat.p99), lat.p99);
  setValue("kpi-max", "max " + fmtMs(lat.max));
  setValue("kpi-tokens", s.tokens.total >= 1e6 ? fmtCompact(s.tokens.total) : fmtInt(s.tokens.total), s.tokens.total);
  $("kpi-tokens").title = fmtInt(s.tokens.total) + " tokens";
  setValue("kpi-tokens-sub", "in " + fmtCompact(s.tokens.input) + " · out " + fmtCompact(s.tokens.output));
  $("kpi-tokens-sub").title = "cache reads " + fmtInt(s.tokens.cache_read) + " · cache writes " + fmtInt(s.tokens.cache_write);
  setValue("kpi-cost", fmtUsd(s.cost_usd), s.cost_usd);
  setValue("kpi-unpriced", s.unpriced_runs ? fmtInt(s.unpriced_runs) + " unpriced runs" : "all runs priced");
  setValue("kpi-users", fmtInt(s.unique_users), s.unique_users);
  setValue("kpi-sessions", fmtInt(s.unique_sessions) + " sessions");
}

function rememberKeys(rows, kind) {
  const known = state.known[kind];
  let changed = false;
  for (const r of rows) if (!known.has(r.key)) { known.add(r.key); changed = true; }
  if (!changed) return;
  const select = $("filter-" + kind);
  const current = select.value;
  const label = kind === "agent" ? "all agents" : "all models";
  select.replaceChildren(new Option(label, ""),
    ...[...known].sort().map((k) => new Option(k, k)));
  select.value = current;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function renderTable(id, label, rows, summary) {
  const table = $(id);
  const isError = id === "table-error_type";
  const head = isError
    ? [label, "runs", "% of failures", "p50", "p95", "cost"]
    : [label, "runs", "success", "failures", "p50", "p95", "p99", "tokens", "cost"];
  const thead = el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { class: i ? "num" : "" }, h))));
  const tbody = el("tbody");
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { colspan: String(head.length), class: "empty" },
      isError ? "no failures in this range" : "no runs in this range")));
  }
  const maxRuns = Math.max(1, ...rows.map((r) => r.runs));
  for (const r of rows) {
    const share = el("span", { class: "bar", style: `width:${(100 * r.runs / maxRuns).toFixed(1)}%` });
    const keyCell = el("td", { class: "key" }, el("span", { class: "keytext" }, r.key), share);
    const cells = isError
      ? [
        el("td", { class: "num", "data-field": "runs" }, fmtInt(r.runs)),
        el("td", { class: "num" }, fmtPct(summary.failures ? r.runs / summary.failures : null)),
        el("td", { class: "num" }, fmtMs(r.latency_ms.p50)),
        el("td", { class: "num" }, fmtMs(r.latency_ms.p95)),
        el("td", { class: "num", "data-field": "cost" }, fmtUsd(r.cost_usd)),
      ]
      : [
        el("td", { class: "num", "data-field": "runs" }, fmtInt(r.runs)),
        el("td", { class: "num" + (r.success_rate != null && r.success_rate < 0.95 ? " warn" : ""), "data-field": "success_rate" }, fmtPct(r.success_rate)),
        el("td", { class: "num", "data-field": "failures" }, fmtInt(r.failures)),
        el("td", { class: "num" }, fmtMs(r.latency_ms.p50)),
        el("td", { class: "num" }, fmtMs(r.latency_ms.p95)),
        el("td", { class: "num" }, fmtMs(r.latency_ms.p99)),
        el("td", { class: "num", "data-field": "tokens", title: fmtInt(r.tokens.total) + " tokens" }, fmtCompact(r.tokens.total)),
        el("td", { class: "num", "data-field": "cost" }, fmtUsd(r.cost_usd)),
      ];
    const tr = el("tr", { "data-key": r.key, "data-runs": String(r.runs), "data-cost": String(r.cost_usd), "data-tokens": String(r.tokens.total) }, keyCell, ...cells);
    tbody.append(tr);
  }
  table.replaceChildren(thead, tbody);
}

// ---------------------------------------------------------------- charts (SVG)
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
  if (granularity === "day") return date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  if (spanDays > 1.01) {
    return date.toLocaleDateString(undefined, { weekday: "short" }) + " " +
      date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

// series: [{name, color, values, kind: "bar"|"line", axis: "left"|"right", stack?}]
function drawChart(host, buckets, series, opts) {
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

function drawCharts() {
  const d = state.last;
  if (!d) return;
  const pts = d.series.points;
  const buckets = pts.map((p) => new Date(p.bucket));
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

// ---------------------------------------------------------------- controls
function saveView() {
  localStorage.setItem(STATE_STORE, JSON.stringify({
    range: state.range, customFrom: state.customFrom, customTo: state.customTo,
    agent: state.agent, model: state.model,
  }));
}

function restoreView() {
  try {
    const v = JSON.parse(localStorage.getItem(STATE_STORE) || "{}");
    if (v.range && (v.range in RANGES || v.range === "custom")) state.range = v.range;
    state.customFrom = v.customFrom || null;
    state.customTo = v.customTo || null;
    state.agent = v.agent || "";
    state.model = v.model || "";
  } catch (_) { /* ignore a damaged entry */ }
  if (state.range === "custom" && !(state.customFrom && state.customTo)) state.range = "24h";
}

function syncControls() {
  for (const b of document.querySelectorAll("[data-range]")) {
    b.classList.toggle("active", b.dataset.range === state.range);
    b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
  }
  $("custom-range").hidden = state.range !== "custom";
  for (const kind of ["agent", "model"]) {
    const select = $("filter-" + kind);
    if (state[kind] && ![...select.options].some((o) => o.value === state[kind])) {
      select.append(new Option(state[kind], state[kind]));
      state.known[kind].add(state[kind]);
    }
    select.value = state[kind];
  }
}

function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function wire() {
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => {
      state.range = b.dataset.range;
      if (state.range === "custom") {
        const { from, to } = currentRange();
        $("custom-from").value = toLocalInput(state.customFrom ? new Date(state.customFrom) : from);
        $("custom-to").value = toLocalInput(state.customTo ? new Date(state.customTo) : to);
        syncControls();
        if (!(state.customFrom && state.customTo)) return;
      }
      syncControls(); saveView(); refresh();
    });
  }
  $("custom-range").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = new Date($("custom-from").value);
    const to = new Date($("custom-to").value);
    if (!(from < to)) { $("status").textContent = "custom range: 'from' must be before 'to'"; return; }
    state.customFrom = from.toISOString();
    state.customTo = to.toISOString();
    saveView(); refresh();
  });
  for (const kind of ["agent", "model"]) {
    $("filter-" + kind).addEventListener("change", (ev) => {
      state[kind] = ev.target.value; saveView(); refresh();
    });
  }
  $("refresh").addEventListener("click", () => refresh());
  $("signout").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORE);
    state.key = null;
    showLogin("Signed out. The key is no longer stored in this browser.");
  });
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("login-key").value.trim();
    if (!key) return;
    useKey(key);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { stopTimer(); return; }
    if (state.key) { refresh(); startTimer(); }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawCharts, 150);
  });
}

function useKey(key) {
  state.key = key;
  localStorage.setItem(KEY_STORE, key);
  $("login-key").value = "";
  showDashboard();
  refresh();
  startTimer();
}

function main() {
  restoreView();
  const hashKey = readHash();
  wire();
  syncControls();
  const key = hashKey || localStorage.getItem(KEY_STORE);
  if (key) useKey(key); else showLogin("");
}

main();
