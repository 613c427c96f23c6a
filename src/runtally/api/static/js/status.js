// The status line under the top bar, and the page's load state (tests read
// body[data-loaded]). A refused key hands over to the login screen.
import { ApiError } from "./api.js";
import { $ } from "./dom.js";

export const hooks = { unauthorized: (_message) => {} };

export function busy() {
  $("status").textContent = "loading…";
  $("status").className = "status";
}

export function done(text) {
  $("status").textContent = text || "updated " + new Date().toLocaleTimeString();
  $("status").className = "status";
  document.body.dataset.loaded = "true";
}

/** Shows why a load failed (the API's message); a 401 goes back to the login screen. */
export function failed(err) {
  if (err instanceof ApiError && err.status === 401) {
    hooks.unauthorized("That key was refused: " + err.message);
    return;
  }
  $("status").textContent = "could not load: " + err.message;
  $("status").className = "status error";
  document.body.dataset.loaded = "error";
}
