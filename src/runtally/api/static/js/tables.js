// The overview's breakdown tables: keys link to the runs view filtered to them; each table
// downloads as CSV (the rows it shows, every number unformatted).
import { breakdownCsv, download, stamp } from "./csv.js";
import { $, el, emptyRow } from "./dom.js";
import { fmtCompact, fmtInt, fmtMs, fmtPct, fmtUsd } from "./format.js";
import { FILTER_OF, runsLink } from "./links.js";

/** Table id suffix -> header label and CSV file name part. */
export const TABLES = {
  agent: { label: "agent", file: "by-agent" },
  model: { label: "model", file: "by-model" },
  error_type: { label: "error type", file: "by-error-type" },
  user: { label: "user", file: "top-users" },
  tag: { label: "tag value", file: "by-tag" },
};
const shown = {};

const td = (text, field, extra) =>
  el("td", { class: "num" + (extra ? " " + extra : ""), "data-field": field }, text);

function cells(r, isError, summary) {
  if (isError) {
    return [
      td(fmtInt(r.runs), "runs"),
      td(fmtPct(summary.failures ? r.runs / summary.failures : null)),
      td(fmtMs(r.latency_ms.p50)), td(fmtMs(r.latency_ms.p95)), td(fmtUsd(r.cost_usd), "cost"),
    ];
  }
  const warn = r.success_rate != null && r.success_rate < 0.95 ? "warn" : "";
  const tokens = td(fmtCompact(r.tokens.total), "tokens");
  tokens.title = fmtInt(r.tokens.total) + " tokens";
  return [
    td(fmtInt(r.runs), "runs"), td(fmtPct(r.success_rate), "success_rate", warn),
    td(fmtInt(r.failures), "failures"), td(fmtMs(r.latency_ms.p50)),
    td(fmtMs(r.latency_ms.p95)), td(fmtMs(r.latency_ms.p99)), tokens, td(fmtUsd(r.cost_usd), "cost"),
  ];
}

/** Fills table-<kind> with ``answer.rows``; ``base`` are the runs-view params of a key link. */
export function renderTable(kind, answer, summary, base) {
  shown[kind] = answer;
  const isError = kind === "error_type";
  const label = TABLES[kind].label;
  const head = isError
    ? [label, "runs", "% of failures", "p50", "p95", "cost"]
    : [label, "runs", "success", "failures", "p50", "p95", "p99", "tokens", "cost"];
  const thead = el("thead", {}, el("tr", {}, ...head.map((h, i) => el("th", { class: i ? "num" : "" }, h))));
  const tbody = el("tbody");
  if (!answer.rows.length) {
    tbody.append(emptyRow(head.length, isError ? "no failures in this range" : "no runs in this range"));
  }
  const maxRuns = Math.max(1, ...answer.rows.map((r) => r.runs));
  for (const r of answer.rows) {
    const share = el("span", { class: "bar", style: `width:${(100 * r.runs / maxRuns).toFixed(1)}%` });
    const link = FILTER_OF[kind]
      ? runsLink(r.key, { ...base, [FILTER_OF[kind]]: r.key },
        { class: "keytext filter-link", title: "runs of " + label + " " + r.key })
      : el("span", { class: "keytext" }, r.key);
    tbody.append(el("tr", {
      "data-key": r.key, "data-runs": String(r.runs), "data-cost": String(r.cost_usd),
      "data-tokens": String(r.tokens.total),
    }, el("td", { class: "key" }, link, share), ...cells(r, isError, summary)));
  }
  $("table-" + kind).replaceChildren(thead, tbody);
}

/** Downloads the rows table-<kind> shows, named after the table and the answer's range. */
export function downloadTable(kind) {
  const answer = shown[kind];
  if (!answer) return;
  const name = `runtally-${TABLES[kind].file}-${stamp(answer.from)}-${stamp(answer.to)}.csv`;
  download(name, breakdownCsv(kind, answer.rows));
}

export function wireCsvButtons() {
  for (const button of document.querySelectorAll("[data-csv]")) {
    button.addEventListener("click", () => downloadTable(button.dataset.csv));
  }
}
