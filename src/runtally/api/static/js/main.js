// runtally dashboard: plain ES modules, no dependencies, no external requests.
// Views (one module each) are registered with the hash router; this module handles the
// key, the top bar's range and filters, and the 30 s refresh of views that want it.
//
// A link may carry the key once: #key=rt_…&range=7d&tz=Asia/Kolkata&agent=a (the overview) or
// #/runs?key=rt_…&status=error (any route). The key is then stored in this browser and
// removed from the address (never sent to the server in a URL, kept out of history).
import { $ } from "./dom.js";
import { overview } from "./overview.js";
import { currentView, go, parse, register, route } from "./router.js";
import { runDetail } from "./run_detail.js";
import { runs, wireRuns } from "./runs.js";
import { KEY_STORE, applyRangeParams, currentRange, restoreView, saveView, state } from "./state.js";
import { hooks } from "./status.js";
import { wireCsvButtons } from "./tables.js";
import { dateToWall, wallToDate, zoneNames } from "./zone.js";

const REFRESH_MS = 30000;
const FILTERS = ["agent", "model", "environment"];  // the overview's filter selects
let timer = null;

/** Takes the key out of the hash; an old-style "#key=…&range=…" becomes "#/?range=…". */
function takeKeyFromHash() {
  const raw = location.hash.replace(/^#/, "");
  const legacy = raw && !raw.startsWith("/");
  const r = legacy ? { name: "overview", params: new URLSearchParams(raw) } : parse(location.hash);
  const key = r.params.get("key");
  if (!key && !legacy) return null;
  r.params.delete("key");
  const path = legacy ? "#/" : "#" + raw.split("?")[0];
  const rest = r.params.toString();
  history.replaceState(null, "", location.pathname + location.search + path + (rest ? "?" + rest : ""));
  return key;
}

/** Overview route params (#/?range=7d&agent=a) set the range and filters. */
function applyOverviewParams() {
  const r = parse(location.hash);
  if (r.name !== "overview" || ![...r.params.keys()].length) return;
  applyRangeParams(r.params);
  for (const kind of FILTERS) if (r.params.has(kind)) state[kind] = r.params.get(kind);
  saveView();
  history.replaceState(null, "", location.pathname + location.search + "#/");
}

function showLogin(message) {
  stopTimer();
  $("dashboard").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-key").focus();
}

function signOut(message) {
  localStorage.removeItem(KEY_STORE);
  state.key = null;
  showLogin(message);
}

function startTimer() {
  stopTimer();
  if (!document.hidden) timer = setInterval(tick, REFRESH_MS);
}
function stopTimer() {
  if (timer) clearInterval(timer);
  timer = null;
}
function tick() {
  const view = currentView();
  if (state.key && !document.hidden && view && view.autoRefresh) view.refresh();
}

function syncControls() {
  for (const b of document.querySelectorAll("[data-range]")) {
    b.classList.toggle("active", b.dataset.range === state.range);
    b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
  }
  $("custom-range").hidden = state.range !== "custom";
  syncZone();
  for (const kind of FILTERS) {
    const select = $("filter-" + kind);
    if (state[kind] && ![...select.options].some((o) => o.value === state[kind])) {
      select.append(new Option(state[kind], state[kind]));
      state.known[kind].add(state[kind]);
    }
    select.value = state[kind];
  }
  $("tag-key").value = state.tagKey;
}

/** Shows the hash's view; a route may carry a range, so the top bar follows it. */
function showRoute() {
  route();
  syncControls();
}

function syncZone() {
  const select = $("zone");
  if (![...select.options].some((o) => o.value === state.tz)) {
    select.replaceChildren(...zoneNames(state.tz).map((z) => new Option(z, z)));
  }
  select.value = state.tz;
}

function rangeChanged() {
  syncControls();
  saveView();
  const view = currentView();
  if (view) view.rangeChanged();
}

function wireRange() {
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => {
      state.range = b.dataset.range;
      if (state.range === "custom") {
        const { from, to } = currentRange();
        $("custom-from").value = dateToWall(state.customFrom ? new Date(state.customFrom) : from, state.tz);
        $("custom-to").value = dateToWall(state.customTo ? new Date(state.customTo) : to, state.tz);
        syncControls();
        if (!(state.customFrom && state.customTo)) return;
      }
      rangeChanged();
    });
  }
  $("custom-range").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const from = wallToDate($("custom-from").value, state.tz); // read in the shown zone
    const to = wallToDate($("custom-to").value, state.tz);
    if (!(from < to)) { $("status").textContent = "custom range: 'from' must be before 'to'"; return; }
    state.customFrom = from.toISOString();
    state.customTo = to.toISOString();
    rangeChanged();
  });
}

function wire() {
  wireRange();
  $("zone").addEventListener("change", (ev) => {
    state.tz = ev.target.value;
    rangeChanged(); // buckets, labels and plain dates all follow the zone
  });
  for (const kind of FILTERS) {
    $("filter-" + kind).addEventListener("change", (ev) => {
      state[kind] = ev.target.value; saveView(); overview.refresh();
    });
  }
  $("tag-key").addEventListener("change", (ev) => {
    const key = ev.target.value.trim();
    if (!key) return;
    state.tagKey = key; saveView(); overview.refresh();
  });
  $("refresh").addEventListener("click", () => { const v = currentView(); if (v) v.refresh(); });
  $("signout").addEventListener("click", () =>
    signOut("Signed out. The key is no longer stored in this browser."));
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const key = $("login-key").value.trim();
    if (key) useKey(key);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { stopTimer(); return; }
    if (state.key) { tick(); startTimer(); }
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(overview.redraw, 150);
  });
  window.addEventListener("hashchange", () => {
    const key = takeKeyFromHash();
    if (key) { useKey(key); return; }
    applyOverviewParams();
    if (state.key) showRoute(); else syncControls();
  });
  wireRuns();
  wireCsvButtons();
  hooks.unauthorized = signOut;
}

function useKey(key) {
  state.key = key;
  localStorage.setItem(KEY_STORE, key);
  $("login-key").value = "";
  $("login").hidden = true;
  $("dashboard").hidden = false;
  applyOverviewParams();
  showRoute();
  startTimer();
}

function main() {
  register("overview", overview);
  register("runs", runs);
  register("run", runDetail);
  restoreView();
  const hashKey = takeKeyFromHash();
  wire();
  const key = hashKey || localStorage.getItem(KEY_STORE);
  if (key) useKey(key); else showLogin("");
}

main();
