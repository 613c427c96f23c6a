// runtally dashboard: the alert rules section (separate from app.js on purpose).
// Lists /v1/alerts with each rule's condition and every group's state and last value,
// using the API key app.js keeps in localStorage; refreshes every 30 s while visible.
"use strict";

(() => {
  const KEY_STORE = "runtally.key";
  const REFRESH_MS = 30000;
  const table = document.getElementById("table-alerts");
  const note = document.getElementById("alerts-note");
  if (!table) return;

  const COLORS = { alert: "#d9534f", warn: "#f59e0b", ok: "#2f9e72" };

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function stateCell(state) {
    const td = cell(state, "alert-state");
    td.style.color = COLORS[state] || "";
    td.style.fontWeight = state === "ok" ? "" : "600";
    return td;
  }

  function fmtValue(measure, v) {
    if (v == null) return "–";
    if (measure === "cost_usd") return "$" + v.toFixed(v < 1 ? 4 : 2);
    if (measure === "error_rate") return (v * 100).toFixed(1) + "%";
    if (measure.endsWith("latency_ms")) return v.toFixed(0) + " ms";
    return String(Math.round(v * 100) / 100);
  }

  function header() {
    const tr = document.createElement("tr");
    for (const h of ["rule", "condition", "window", "group", "state", "last value", "since"]) {
      const th = document.createElement("th");
      th.textContent = h;
      tr.append(th);
    }
    const thead = document.createElement("thead");
    thead.append(tr);
    return thead;
  }

  function rows(rule) {
    const condition = `${rule.measure} ${rule.op} ${rule.threshold}` +
      (rule.warn_threshold != null ? ` (warn ${rule.warn_threshold})` : "");
    const states = rule.states.length ? rule.states : [null];
    return states.map((s) => {
      const tr = document.createElement("tr");
      const state = s ? s.state : "not evaluated";
      tr.dataset.rule = String(rule.id);
      tr.dataset.state = state;
      tr.append(
        cell(rule.name, "key"), cell(condition), cell(rule.window),
        cell(s ? (s.group || "all") : "–"), stateCell(state),
        cell(fmtValue(rule.measure, s ? s.value : null)),
        cell(s ? new Date(s.since).toLocaleString() : "–"),
      );
      return tr;
    });
  }

  function render(body) {
    const tbody = document.createElement("tbody");
    for (const rule of body.rules) tbody.append(...rows(rule));
    table.replaceChildren(header(), tbody);
    if (note) note.textContent = body.rules.length ? "" : "No alert rules yet: POST /v1/alerts or `runtally alerts create`.";
  }

  async function refresh() {
    const key = localStorage.getItem(KEY_STORE);
    if (!key || document.hidden) return;
    try {
      const res = await fetch("/v1/alerts", { headers: { Authorization: "Bearer " + key } });
      if (!res.ok) throw new Error((await res.json()).message || res.statusText);
      render(await res.json());
    } catch (err) {
      if (note) note.textContent = "Alerts unavailable: " + err.message;
    }
  }

  window.addEventListener("load", () => setTimeout(refresh, 50));
  window.addEventListener("storage", refresh);
  document.addEventListener("visibilitychange", refresh);
  setInterval(refresh, REFRESH_MS);
})();
