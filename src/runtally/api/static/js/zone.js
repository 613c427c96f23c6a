// The time zone the dashboard shows and asks the API for (tz=): the browser's own zone
// unless one was chosen. Days on the charts then start at that zone's midnight, and
// times and the custom range's inputs are read and shown in it.

/** This browser's IANA zone (UTC when it cannot tell). */
export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (_) {
    return "UTC";
  }
}

/** Zones for the selector: UTC and the browser's first, then every zone Intl knows. */
export function zoneNames(current) {
  let all = [];
  try { all = Intl.supportedValuesOf("timeZone"); } catch (_) { /* an older browser */ }
  const first = [browserZone(), "UTC", current].filter(Boolean);
  return [...new Set([...first, ...[...all].sort()])];
}

const partsFormat = {};
function wallParts(date, tz) {
  partsFormat[tz] = partsFormat[tz] || new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const p = {};
  for (const { type, value } of partsFormat[tz].formatToParts(date)) p[type] = Number(value);
  return p;
}

/** The zone's offset from UTC at ``date``, in ms (+05:30 → 19800000). */
export function offsetMs(date, tz) {
  const p = wallParts(date, tz);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(date.getTime() / 1000) * 1000;
}

/** "YYYY-MM-DDTHH:MM" read as wall time in ``tz``: the Date it names. Of two repeated
 *  wall times the first; a wall time skipped by DST moves forward by the gap (as Python's
 *  zoneinfo with fold=0 does). */
export function wallToDate(wall, tz) {
  const [day, time] = wall.split("T");
  const [y, mo, d] = day.split("-").map(Number);
  const [h, mi] = (time || "00:00").split(":").map(Number);
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const HALF_DAY = 12 * 3600e3; // no zone changes its offset twice within a day
  const candidates = [guess - HALF_DAY, guess + HALF_DAY].map((t) => guess - offsetMs(new Date(t), tz));
  const real = candidates.filter((t) => dateToWall(new Date(t), tz) === wall.slice(0, 16));
  return new Date(real.length ? Math.min(...real) : Math.max(...candidates));
}

/** ``date`` as "YYYY-MM-DDTHH:MM" wall time in ``tz`` (for datetime-local inputs). */
export function dateToWall(date, tz) {
  const p = wallParts(date, tz);
  const pad = (n) => String(n).padStart(2, "0");
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}
