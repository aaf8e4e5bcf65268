/* Shared helpers for the shopper and staff pages: API calls, error text, and result cards. */
"use strict";

const api = {
  /** fetch JSON; throws an Error carrying the API's {"error": {"message"}} text */
  async request(path, options = {}) {
    const resp = await fetch(path, options);
    let body = null;
    try { body = await resp.json(); } catch (_) { body = null; }
    if (!resp.ok) {
      const msg = body && body.error ? body.error.message : `HTTP ${resp.status}`;
      const err = new Error(msg);
      err.status = resp.status;
      throw err;
    }
    return body;
  },
  get(path, headers) { return api.request(path, { headers: headers || {} }); },
  post(path, form, headers) { return api.request(path, { method: "POST", body: form, headers: headers || {} }); },
};

/** the display name and category of a product, whatever its metadata calls them */
function productName(p) {
  const m = p.metadata || {};
  return m.name || m.title || m.label || p.id;
}
function productCategory(p) {
  const m = p.metadata || {};
  return m.category || m.label || m.group || m.coarse_id || "";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function productHref(id) { return "#/product/" + encodeURIComponent(id); }

/** one result card: thumbnail, name, category and score, linking to the product page */
function resultCard(hit) {
  const pct = Math.max(0, Math.min(100, Math.round(hit.score * 100)));
  const bar = el("span", { class: "bar" }, el("span", { style: `width:${pct}%` }));
  return el("a", { class: "card", href: productHref(hit.id), "data-id": hit.id },
    el("div", { class: "thumb" }, el("img", { src: hit.thumb_url, alt: productName(hit), loading: "lazy" })),
    el("div", { class: "card-body" },
      el("div", { class: "name", text: productName(hit) }),
      el("div", { class: "cat", text: productCategory(hit) }),
      el("div", { class: "score", title: "cosine similarity" }, bar, el("span", { text: hit.score.toFixed(2) }))));
}

function renderGrid(container, hits) {
  container.replaceChildren(...hits.map(resultCard));
}
