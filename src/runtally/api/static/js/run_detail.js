// One run: every stored field of /v1/runs/{event_id}, grouped for reading.
import { api, ApiError } from "./api.js";
import { $, el } from "./dom.js";
import { fmtInt, fmtMs, fmtUsdExact } from "./format.js";
import { runsLink } from "./links.js";
import { parse } from "./router.js";
import { rangeParams } from "./state.js";
import { busy, done, failed } from "./status.js";
import { lastListHash } from "./runs.js";

/** How the stored cost came about (agent_runs.cost_source). */
export const COST_SOURCES = {
  event: "sent in the event",
  price_table: "computed at ingest from the price table",
};

const UNPRICED = "unpriced: no cost in the event and no price for this model";

function field(name, label, value) {
  const shown = value == null || value === "" ? "–" : value;
  return [el("dt", {}, label), el("dd", { "data-field": name }, shown)];
}

function iso(value) {
  return value ? new Date(value).toISOString().replace("T", " ").replace("Z", " UTC") : null;
}

function filterLink(name, value) {
  return value == null ? null : runsLink(value, { [name]: value, ...rangeParams() });
}

function block(title, ...rows) {
  return el("article", { class: "card detail-block" }, el("h2", {}, title), el("dl", {}, ...rows.flat()));
}

function tokensBlock(run) {
  const total = run.input_tokens == null && run.output_tokens == null
    ? null : (run.input_tokens ?? 0) + (run.output_tokens ?? 0);
  const n = (v) => (v == null ? null : fmtInt(v));
  return block("Tokens",
    field("input_tokens", "input (all)", n(run.input_tokens)),
    field("cache_read_tokens", "of which cache reads", n(run.cache_read_tokens)),
    field("cache_write_tokens", "of which cache writes", n(run.cache_write_tokens)),
    field("output_tokens", "output", n(run.output_tokens)),
    field("total_tokens", "total (input + output)", n(total)));
}

function costBlock(run) {
  const source = run.cost_source ? COST_SOURCES[run.cost_source] || run.cost_source : UNPRICED;
  return block("Cost",
    field("cost_usd", "cost", run.cost_usd == null ? null : fmtUsdExact(run.cost_usd)),
    field("cost_source", "source", source),
    field("price_version", "price table version", run.price_version));
}

function mapBlock(title, name, map) {
  const entries = Object.entries(map || {});
  const body = entries.length
    ? el("pre", { class: "json", "data-field": name }, JSON.stringify(map, null, 2))
    : el("p", { class: "muted", "data-field": name }, "none");
  return el("article", { class: "card detail-block" }, el("h2", {}, title), body);
}

function render(run) {
  const status = el("span", { class: "badge " + (run.status === "error" ? "bad" : "ok") }, run.status);
  const header = el("div", { class: "detail-head" },
    el("a", { href: lastListHash(), class: "back", "data-testid": "back-to-runs" }, "← runs"),
    el("h1", {}, "Run ", el("code", { "data-field": "event_id" }, run.event_id)), status);
  const message = run.error_message == null ? null : el("pre", { class: "message" }, run.error_message);
  const grid = el("div", { class: "detail-grid" },
    block("Run",
      field("project", "project", run.project), field("agent", "agent", filterLink("agent", run.agent)),
      field("model", "model", filterLink("model", run.model)), field("status", "status", run.status),
      field("error_type", "error type", filterLink("error_type", run.error_type)),
      field("error_message", "error message", message)),
    block("Timing",
      field("started_at", "started", iso(run.started_at)), field("ended_at", "ended", iso(run.ended_at)),
      field("duration_ms", "duration", fmtMs(run.duration_ms)),
      field("ttft_ms", "time to first token", run.ttft_ms == null ? null : fmtMs(run.ttft_ms)),
      field("ingested_at", "stored", iso(run.ingested_at))),
    tokensBlock(run), costBlock(run),
    block("Identity",
      field("user_id", "user", filterLink("user_id", run.user_id)),
      field("session_id", "session", filterLink("session_id", run.session_id)),
      field("trace_id", "trace", filterLink("trace_id", run.trace_id))),
    mapBlock("Tags", "tags", run.tags), mapBlock("Metadata", "metadata", run.metadata));
  $("view-run").replaceChildren(header, grid);
}

async function show(route) {
  busy();
  $("view-run").replaceChildren();
  try {
    const run = await api("/v1/runs/" + encodeURIComponent(route.id));
    $("project").textContent = run.project;
    render(run);
    done();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      $("view-run").replaceChildren(el("p", { class: "card notice" }, err.message));
    }
    failed(err);
  }
}

export const runDetail = {
  section: "view-run",
  autoRefresh: false,
  show,
  refresh: () => show(parse(location.hash)),
  rangeChanged: () => {},
};
