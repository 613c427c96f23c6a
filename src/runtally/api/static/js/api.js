// The read API: GET with the bearer key, JSON answers, errors as ApiError.
import { state } from "./state.js";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** GET ``path`` with the non-empty ``params``; the parsed JSON or an ApiError. */
export async function api(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: { Authorization: "Bearer " + state.key } });
  if (!res.ok) {
    let message = res.status + " " + res.statusText;
    try { message = (await res.json()).message || message; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, message);
  }
  return res.json();
}
