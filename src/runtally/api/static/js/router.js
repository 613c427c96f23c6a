// Hash routes, so every view is linkable and the back button works:
//   #/                 overview
//   #/runs?agent=a&…   runs list (filters, range, cursor)
//   #/runs/<event_id>  one run
// A view registers {section, show(route), refresh(), rangeChanged()}; the router shows
// the one whose name the route gives and hides the others.

const views = {};
let current = null;

export function register(name, view) { views[name] = view; }

export function currentView() { return current; }

/** {name, id, params} of a hash such as "#/runs?agent=a" ("" and "#/" are the overview). */
export function parse(hash) {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = (q < 0 ? raw : raw.slice(0, q)) || "/";
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const parts = path.split("/").filter(Boolean);
  if (!parts.length) return { name: "overview", id: null, params };
  if (parts[0] === "runs" && parts.length === 2) {
    return { name: "run", id: decodeURIComponent(parts[1]), params };
  }
  return { name: parts.join("/"), id: null, params };
}

/** "#/path?k=v" with the non-empty params. */
export function href(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) query.set(k, v);
  const text = query.toString();
  return "#" + path + (text ? "?" + text : "");
}

/** Opens a route as a new history entry (or in place with replace). */
export function go(path, params, replace) {
  const target = href(path, params);
  if (replace) {
    history.replaceState(null, "", location.pathname + location.search + target);
    route();
  } else if (location.hash !== target) {
    location.hash = target; // fires hashchange -> route()
  } else {
    route();
  }
}

/** Shows the view the current hash names; an unknown route shows a message. */
export function route() {
  const r = parse(location.hash);
  const view = views[r.name];
  document.body.dataset.loaded = "false";
  document.getElementById("range-label").textContent = ""; // each view describes itself
  for (const v of Object.values(views)) document.getElementById(v.section).hidden = v !== view;
  document.getElementById("view-unknown").hidden = Boolean(view);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (r.name === "run" ? "runs" : r.name));
  }
  current = view || null;
  document.body.dataset.view = view ? r.name : "unknown";
  if (view) view.show(r);
}
