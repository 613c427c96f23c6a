// The runs view: stored runs newest first, filtered, in keyset pages (the API's cursor).
// Everything it shows is in the URL hash (#/runs?status=error&agent=a&range=24h&cursor=…).
import { api } from "./api.js";
import { download, runsCsv, stamp } from "./csv.js";
import { $, el, emptyRow } from "./dom.js";
import { fmtInt, fmtMoment, fmtMs, fmtTime, fmtUsdExact } from "./format.js";
import { runsLink } from "./links.js";
import { go, href } from "./router.js";
import { applyRangeParams, currentRange, rangeParams, saveView, state } from "./state.js";
import { busy, done, failed } from "./status.js";

/** Filters of /v1/runs, in the order the form shows them. */
export const FILTERS = ["status", "agent", "model", "error_type", "user_id", "session_id", "trace_id"];
const PAGE_SIZE = 50;
let params = {};
let lastHash = "#/runs";
let shown = null; // {page, from, to} of the list on screen

/** The hash of the list the user saw last (the detail view links back to it). */
export function lastListHash() { return lastHash; }

/** The route's filters and range (no cursor): the params of a fresh first page. */
function filtersOf(p) {
  const out = {};
  for (const name of FILTERS) if (p[name]) out[name] = p[name];
  return { ...out, ...rangeParams(), limit: p.limit };
}

function statusBadge(status) {
  return el("span", { class: "badge " + (status === "error" ? "bad" : "ok") }, status);
}

function filterCell(name, value) {
  if (value == null) return el("td", { class: "muted" }, "–");
  return el("td", { class: "ident" },
    runsLink(value, { ...filtersOf(params), [name]: value }, { title: name + " = " + value }));
}

function runRow(run) {
  const tokens = run.input_tokens == null && run.output_tokens == null
    ? "–" : fmtInt(run.input_tokens ?? 0) + " / " + fmtInt(run.output_tokens ?? 0);
  const open = el("a", { href: href("/runs/" + run.event_id), class: "open", title: run.event_id },
    fmtTime(run.started_at));
  return el("tr", { "data-event-id": run.event_id },
    el("td", {}, open), filterCell("agent", run.agent), filterCell("model", run.model),
    el("td", {}, statusBadge(run.status)), filterCell("error_type", run.error_type),
    el("td", { class: "num" }, fmtMs(run.duration_ms)), el("td", { class: "num" }, tokens),
    el("td", { class: "num" }, fmtUsdExact(run.cost_usd)),
    filterCell("user_id", run.user_id), filterCell("session_id", run.session_id));
}

function renderList(page) {
  const head = ["started", "agent", "model", "status", "error type", "duration",
    "tokens in / out", "cost", "user", "session"];
  const thead = el("thead", {}, el("tr", {}, ...head.map((h, i) =>
    el("th", { class: [5, 6, 7].includes(i) ? "num" : "" }, h))));
  const tbody = el("tbody", {}, ...page.runs.map(runRow));
  if (!page.runs.length) tbody.append(emptyRow(head.length, "no runs match in this range"));
  $("runs-table").replaceChildren(thead, tbody);
  const number = Number(params.page || 1);
  const first = (number - 1) * Number(params.limit || PAGE_SIZE) + 1;
  $("runs-page").textContent = page.runs.length
    ? `runs ${fmtInt(first)}–${fmtInt(first + page.runs.length - 1)}` + (page.next_cursor ? "" : " (oldest)")
    : "";
  $("runs-newest").disabled = !params.cursor;
  $("runs-older").disabled = !page.next_cursor;
  $("runs-older").dataset.cursor = page.next_cursor || "";
}

function fillForm() {
  const form = $("runs-filters");
  for (const name of FILTERS) form.elements[name].value = params[name] || "";
  const { from, to } = currentRange();
  $("range-label").textContent = "runs started " + fmtMoment(from) + " → " + fmtMoment(to) + " " + state.tz;
}

async function refresh() {
  busy();
  shown = null;
  fillForm();
  const { from, to } = currentRange();
  try {
    const page = await api("/v1/runs", {
      ...Object.fromEntries(FILTERS.map((n) => [n, params[n]])),
      from: from.toISOString(), to: to.toISOString(),
      cursor: params.cursor, limit: params.limit || String(PAGE_SIZE),
    });
    $("project").textContent = page.project;
    renderList(page);
    shown = { page, from: from.toISOString(), to: to.toISOString() };
    Object.assign($("runs-table").dataset, { from: from.toISOString(), to: to.toISOString() });
    done();
  } catch (err) {
    failed(err);
  }
}

function show(route) {
  params = Object.fromEntries(route.params);
  if (!applyRangeParams(route.params)) {
    failed(new Error("the link's range is not valid"));
    return;
  }
  saveView();
  if (!route.params.has("range") && !route.params.has("from")) {
    go("/runs", { ...params, ...rangeParams() }, true); // the address names its range
    return;
  }
  lastHash = location.hash;
  refresh();
}

function submitFilters(ev) {
  ev.preventDefault();
  const form = $("runs-filters");
  const chosen = {};
  for (const name of FILTERS) chosen[name] = form.elements[name].value.trim();
  go("/runs", { ...chosen, ...rangeParams(), limit: params.limit });
}

function downloadPage() {
  if (!shown) return;
  const number = params.page ? `-page${Number(params.page)}` : "";
  download(`runtally-runs-${stamp(shown.from)}-${stamp(shown.to)}${number}.csv`, runsCsv(shown.page.runs));
}

export function wireRuns() {
  $("runs-csv").addEventListener("click", downloadPage);
  $("runs-filters").addEventListener("submit", submitFilters);
  $("runs-clear").addEventListener("click", () => go("/runs", { ...rangeParams(), limit: params.limit }));
  $("runs-newest").addEventListener("click", () => go("/runs", filtersOf(params)));
  $("runs-older").addEventListener("click", () => go("/runs", {
    ...filtersOf(params), cursor: $("runs-older").dataset.cursor, page: String(Number(params.page || 1) + 1),
  }));
}

export const runs = {
  section: "view-runs",
  autoRefresh: false,
  show,
  refresh,
  rangeChanged: () => go("/runs", filtersOf(params)),
};
