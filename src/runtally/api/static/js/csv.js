// CSV (RFC 4180) made in the browser from the rows a table shows, and its download.

/** One field: quoted when it holds a comma, quote, line break or edge space. */
export function csvField(value) {
  if (value == null) return "";
  const text = String(value);
  if (/[",\r\n]/.test(text) || text !== text.trim()) return '"' + text.replace(/"/g, '""') + '"';
  return text;
}

/** The whole document: a header line, then one line per row, CRLF line ends. */
export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** 2026-12-01T03:24:00.000Z -> 20261201T032400Z (safe in a file name, sorts by time). */
export function stamp(iso) {
  return new Date(iso).toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
}

/** Saves ``text`` as a file; the byte-order mark lets spreadsheets read UTF-8 names. */
export function download(filename, text) {
  const blob = new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const LATENCY = ["avg", "min", "p50", "p75", "p90", "p95", "p99", "max"];
const TOKENS = ["input", "output", "cache_read", "cache_write", "total"];

/** A /v1/breakdown answer as CSV: every number of every row, unformatted. */
export function breakdownCsv(label, rows) {
  const header = [
    label, "runs", "successes", "failures", "success_rate",
    ...LATENCY.map((p) => `latency_${p}_ms`), ...TOKENS.map((t) => `tokens_${t}`), "cost_usd",
  ];
  return toCsv(header, rows.map((r) => [
    r.key, r.runs, r.successes, r.failures, r.success_rate,
    ...LATENCY.map((p) => r.latency_ms[p]), ...TOKENS.map((t) => r.tokens[t]), r.cost_usd,
  ]));
}

const RUN_COLUMNS = [
  "event_id", "started_at", "ended_at", "agent", "model", "status", "error_type", "error_message",
  "duration_ms", "ttft_ms", "input_tokens", "output_tokens", "cache_read_tokens",
  "cache_write_tokens", "cost_usd", "cost_source", "user_id", "session_id", "trace_id", "tags",
];

/** A /v1/runs page as CSV: the API's fields as sent (tags as JSON). */
export function runsCsv(runs) {
  return toCsv(RUN_COLUMNS, runs.map((run) => RUN_COLUMNS.map((c) =>
    c === "tags" && run.tags != null ? JSON.stringify(run.tags) : run[c])));
}
