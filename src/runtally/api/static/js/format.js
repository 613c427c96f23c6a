// Number, time and money formatting for people (tables, cards, chart axes).
// Times are shown in the dashboard's zone (state.tz).
import { state } from "./state.js";

const nf = new Intl.NumberFormat("en-US");

export function fmtInt(n) { return n == null ? "–" : nf.format(n); }

export function fmtCompact(n) {
  if (n == null) return "–";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
  if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
  return String(Math.round(n * 100) / 100);
}

export function fmtMs(ms) {
  if (ms == null) return "–";
  if (ms >= 60000) return (ms / 60000).toFixed(1) + " min";
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  return ms.toFixed(0) + " ms";
}

export function fmtMsAxis(ms) {
  if (ms >= 864e5) return +(ms / 864e5).toFixed(1) + " d";
  if (ms >= 36e5) return +(ms / 36e5).toFixed(1) + " h";
  if (ms >= 60000) return +(ms / 60000).toFixed(1) + " min";
  if (ms >= 1000) return +(ms / 1000).toFixed(1) + " s";
  return +ms.toFixed(1) + " ms";
}

export function fmtPct(x) { return x == null ? "–" : (x * 100).toFixed(1) + "%"; }

export function fmtUsd(x) {
  if (x == null) return "–";
  if (x > 0 && x < 0.01) return "$" + x.toFixed(4);
  return "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** Every digit the API sent (a single run's cost is often far below a cent). */
export function fmtUsdExact(x) { return x == null ? "–" : "$" + String(x); }

export function fmtUsdAxis(x) {
  if (x === 0) return "$0";
  if (x >= 100) return "$" + fmtCompact(x);
  return "$" + x.toFixed(x < 0.1 ? 4 : 2);
}

export function fmtTime(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, {
    timeZone: state.tz, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

/** ``date`` with date and time in the dashboard's zone. */
export function fmtMoment(date) {
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: state.tz });
}
