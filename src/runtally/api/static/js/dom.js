// Small DOM helpers: no framework, elements built with el().

export const $ = (id) => document.getElementById(id);

/** A new element; attrs "class" sets className, others are attributes; children appended. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

/** Sets an element's text and, when given, the raw value in data-value (tests read it). */
export function setValue(id, text, raw) {
  const node = $(id);
  node.textContent = text;
  if (raw !== undefined) node.dataset.value = raw == null ? "" : String(raw);
}

/** A row spanning the whole table, saying there is nothing to show. */
export function emptyRow(columns, text) {
  return el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, text));
}
