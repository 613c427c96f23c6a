// The overview: key figures, charts and breakdown tables of the range and filters.
import { api } from "./api.js";
import { drawCharts } from "./charts.js";
import { $, setValue } from "./dom.js";
import { fmtCompact, fmtInt, fmtMoment, fmtMs, fmtPct, fmtUsd } from "./format.js";
import { currentRange, filterParams, rangeParams, state } from "./state.js";
import { busy, done, failed } from "./status.js";
import { renderTable } from "./tables.js";

let last = null;
let inflight = null;

async function load() {
  const { from, to } = currentRange();
  const granularity = to - from > 7 * 86400e3 ? "day" : "hour";
  const base = { from: from.toISOString(), to: to.toISOString(), tz: state.tz, ...filterParams() };
  const [summary, series, byAgent, byModel, byError, byUser, byEnv, byTag] = await Promise.all([
    api("/v1/summary", base),
    api("/v1/timeseries", { ...base, granularity }),
    api("/v1/breakdown", { ...base, by: "agent" }),
    api("/v1/breakdown", { ...base, by: "model" }),
    api("/v1/breakdown", { ...base, by: "error_type" }),
    api("/v1/breakdown", { ...base, by: "user", limit: "10" }),
    api("/v1/breakdown", { ...base, by: "tag:environment" }),
    api("/v1/breakdown", { ...base, by: "tag:" + state.tagKey }),
  ]);
  return { summary, series, byAgent, byModel, byError, byUser, byEnv, byTag, granularity, from, to };
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
  const total = s.tokens.total;
  setValue("kpi-tokens", total >= 1e6 ? fmtCompact(total) : fmtInt(total), total);
  $("kpi-tokens").title = fmtInt(total) + " tokens";
  setValue("kpi-tokens-sub", "in " + fmtCompact(s.tokens.input) + " · out " + fmtCompact(s.tokens.output));
  $("kpi-tokens-sub").title = "cache reads " + fmtInt(s.tokens.cache_read) + " · cache writes " + fmtInt(s.tokens.cache_write);
  setValue("kpi-cost", fmtUsd(s.cost_usd), s.cost_usd);
  setValue("kpi-unpriced", s.unpriced_runs ? fmtInt(s.unpriced_runs) + " unpriced runs" : "all runs priced");
  setValue("kpi-users", fmtInt(s.unique_users), s.unique_users);
  setValue("kpi-sessions", fmtInt(s.unique_sessions) + " sessions");
}

/** Adds newly seen agents/models to the filter selects and the runs view's suggestions. */
export function rememberKeys(keys, kind) {
  const known = state.known[kind];
  const before = known.size;
  for (const k of keys) known.add(k);
  if (known.size === before) return;
  const select = $("filter-" + kind);
  const current = select.value;
  const label = { agent: "all agents", model: "all models", environment: "all environments" }[kind];
  const sorted = [...known].sort();
  select.replaceChildren(new Option(label, ""), ...sorted.map((k) => new Option(k, k)));
  select.value = current;
  const list = document.getElementById("known-" + kind);
  if (list) list.replaceChildren(...sorted.map((k) => new Option(k, k)));
}

function render(d) {
  renderKpis(d.summary);
  $("project").textContent = d.summary.project;
  $("range-label").textContent =
    fmtMoment(d.from) + " → " + fmtMoment(d.to) + " " + state.tz +
    " · " + (d.granularity === "day" ? "daily" : "hourly") + " buckets" +
    (state.agent ? " · agent " + state.agent : "") + (state.model ? " · model " + state.model : "") +
    (state.environment ? " · environment " + state.environment : "");
  rememberKeys(d.byAgent.rows.map((r) => r.key), "agent");
  rememberKeys(d.byModel.rows.map((r) => r.key), "model");
  rememberKeys(d.byEnv.rows.map((r) => r.key).filter((k) => k !== "__other__"), "environment");
  drawCharts(d);
  const base = { ...rangeParams(), agent: state.agent, model: state.model };
  renderTable("agent", d.byAgent, d.summary, base);
  renderTable("model", d.byModel, d.summary, base);
  renderTable("error_type", d.byError, d.summary, base);
  renderTable("user", d.byUser, d.summary, base);
  renderTable("tag", d.byTag, d.summary, base);
  $("tag-basis").textContent = d.byTag.basis.note || "";
}

function refresh() {
  if (inflight) return inflight;
  busy();
  inflight = load()
    .then((d) => { last = d; render(d); done(); })
    .catch(failed)
    .finally(() => { inflight = null; });
  return inflight;
}

export const overview = {
  section: "view-overview",
  autoRefresh: true,
  show: () => refresh(),
  refresh,
  rangeChanged: () => refresh(),
  redraw: () => drawCharts(last),
};
