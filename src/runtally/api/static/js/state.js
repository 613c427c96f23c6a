// What the page shows: the key, the time range and zone, the overview's agent/model filters.
// The range, zone and filters persist in localStorage; the route (view) lives in the URL hash.
import { browserZone } from "./zone.js";

export const KEY_STORE = "runtally.key";
const STATE_STORE = "runtally.view";
export const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

export const state = {
  key: null,
  range: "24h",
  customFrom: null,
  customTo: null,
  tz: browserZone(),
  agent: "",
  model: "",
  environment: "",
  tagKey: "environment",
  known: { agent: new Set(), model: new Set(), environment: new Set() },
};

/** The overview's filters as API parameters (the environment is a tag filter). */
export function filterParams() {
  const tag = state.environment ? "environment:" + state.environment : "";
  return { agent: state.agent, model: state.model, tag };
}

/** The range as dates; relative ranges end now (to the second). */
export function currentRange() {
  if (state.range === "custom" && state.customFrom && state.customTo) {
    return { from: new Date(state.customFrom), to: new Date(state.customTo) };
  }
  const to = new Date(Math.floor(Date.now() / 1000) * 1000);
  return { from: new Date(to - RANGES[state.range in RANGES ? state.range : "24h"]), to };
}

/** The range as route parameters: {range} or, for a custom range, {from, to}. */
export function rangeParams() {
  if (state.range === "custom" && state.customFrom && state.customTo) {
    return { from: state.customFrom, to: state.customTo };
  }
  return { range: state.range };
}

/** Whether ``tz`` is a zone this browser knows (the API checks it again). */
export function knownZone(tz) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return Boolean(tz);
  } catch (_) {
    return false;
  }
}

/** Applies route parameters made by rangeParams() (and a zone, tz=); false when they
 *  name no valid range or zone. */
export function applyRangeParams(params) {
  if (params.has("tz")) {
    if (!knownZone(params.get("tz"))) return false;
    state.tz = params.get("tz");
  }
  const from = params.get("from");
  const to = params.get("to");
  if (from && to) {
    if (!(new Date(from) < new Date(to))) return false;
    Object.assign(state, { range: "custom", customFrom: from, customTo: to });
  } else if (params.has("range")) {
    if (!(params.get("range") in RANGES)) return false;
    state.range = params.get("range");
  }
  return true;
}

export function saveView() {
  localStorage.setItem(STATE_STORE, JSON.stringify({
    range: state.range, customFrom: state.customFrom, customTo: state.customTo,
    tz: state.tz, agent: state.agent, model: state.model, environment: state.environment,
    tagKey: state.tagKey,
  }));
}

export function restoreView() {
  try {
    const v = JSON.parse(localStorage.getItem(STATE_STORE) || "{}");
    if (v.range && (v.range in RANGES || v.range === "custom")) state.range = v.range;
    state.customFrom = v.customFrom || null;
    state.customTo = v.customTo || null;
    state.tz = knownZone(v.tz) ? v.tz : browserZone();
    state.agent = v.agent || "";
    state.model = v.model || "";
    state.environment = v.environment || "";
    state.tagKey = v.tagKey || "environment";
  } catch (_) { /* ignore a damaged entry */ }
  if (state.range === "custom" && !(state.customFrom && state.customTo)) state.range = "24h";
}
