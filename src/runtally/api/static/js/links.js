// Links into the runs view: a run list filtered to one value, kept in the URL hash.
import { el } from "./dom.js";
import { href } from "./router.js";

/** Column of /v1/runs that filters on each kind of dashboard key. */
export const FILTER_OF = { agent: "agent", model: "model", error_type: "error_type", user: "user_id" };

/** An <a> opening the runs view with ``params`` (filters and range). */
export function runsLink(text, params, attrs) {
  return el("a", { href: href("/runs", params), class: "filter-link", ...attrs }, text);
}
