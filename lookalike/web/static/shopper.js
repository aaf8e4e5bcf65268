/* Shopper view: a photo in (drop, file or camera), an optional box over it, similar products out. */
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, crop: null, filters: {}, lastHits: [] };

// ---- choosing a photo ------------------------------------------------------
function usePhoto(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    setStatus(`${file.name} is not an image. Choose a JPEG, PNG or WebP photo.`, true);
    return;
  }
  state.file = file;
  state.crop = null;
  const url = URL.createObjectURL(file);
  const img = $("preview");
  img.onload = () => { URL.revokeObjectURL(url); search(); };
  img.src = url;
  $("drop-empty").hidden = true;
  $("stage").hidden = false;
  $("box").hidden = true;
  $("hint").hidden = false;
  $("new-photo").hidden = false;
  $("clear-box").hidden = true;
}

function resetPhoto() {
  state.file = null;
  state.crop = null;
  $("stage").hidden = true;
  $("drop-empty").hidden = false;
  $("hint").hidden = true;
  $("new-photo").hidden = true;
  $("clear-box").hidden = true;
  $("results").replaceChildren();
  setStatus("Add a photo to find products that look like it.");
}

function wireDrop() {
  const drop = $("drop");
  for (const input of [$("file"), $("camera")]) {
    input.addEventListener("change", () => { usePhoto(input.files[0]); input.value = ""; });
  }
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) usePhoto(e.dataTransfer.files[0]);
  });
  $("new-photo").addEventListener("click", resetPhoto);
  $("clear-box").addEventListener("click", () => { state.crop = null; $("box").hidden = true; $("clear-box").hidden = true; search(); });
}

// ---- dragging a box over the photo (mouse, pen or finger) -------------------
function wireCrop() {
  const stage = $("stage"), box = $("box"), img = $("preview");
  let start = null;
  const point = (e) => {
    const r = img.getBoundingClientRect();
    return { x: Math.max(0, Math.min(r.width, e.clientX - r.left)), y: Math.max(0, Math.min(r.height, e.clientY - r.top)) };
  };
  const draw = (a, b) => {
    Object.assign(box.style, { left: `${Math.min(a.x, b.x)}px`, top: `${Math.min(a.y, b.y)}px`,
      width: `${Math.abs(a.x - b.x)}px`, height: `${Math.abs(a.y - b.y)}px` });
  };
  stage.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    start = point(e);
    stage.setPointerCapture(e.pointerId);
    draw(start, start);
    box.hidden = false;
  });
  stage.addEventListener("pointermove", (e) => { if (start) draw(start, point(e)); });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const end = point(e), a = start;
    start = null;
    if (Math.abs(end.x - a.x) < 8 || Math.abs(end.y - a.y) < 8) {  // a tap, not a box
      box.hidden = state.crop === null;
      return;
    }
    // the API wants the box in the photo's own pixels, not in screen pixels
    const sx = img.naturalWidth / img.clientWidth, sy = img.naturalHeight / img.clientHeight;
    state.crop = [Math.min(a.x, end.x) * sx, Math.min(a.y, end.y) * sy, Math.max(a.x, end.x) * sx, Math.max(a.y, end.y) * sy]
      .map(Math.round);
    state.crop[2] = Math.min(state.crop[2], img.naturalWidth);
    state.crop[3] = Math.min(state.crop[3], img.naturalHeight);
    $("clear-box").hidden = false;
    search();
  });
}

// ---- filters ----------------------------------------------------------------
async function loadFacets() {
  let facets = {};
  try { facets = await api.get("/facets"); } catch (_) { return; }
  const form = $("filters");
  for (const [key, values] of Object.entries(facets).slice(0, 4)) {
    const select = el("select", { name: key, "data-filter": key }, el("option", { value: "", text: "Any" }));
    for (const [value, n] of Object.entries(values)) select.append(el("option", { value, text: `${value} (${n})` }));
    form.prepend(el("label", {}, document.createTextNode(key[0].toUpperCase() + key.slice(1) + " "), select));
  }
  form.addEventListener("change", () => search());
}

function activeFilters() {
  return [...document.querySelectorAll("[data-filter]")].filter((s) => s.value).map((s) => `${s.name}=${s.value}`);
}

// ---- searching ----------------------------------------------------------------
function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!isError);
}

let searchSeq = 0;
async function search() {
  if (!state.file) return;
  const seq = ++searchSeq;
  const form = new FormData();
  form.append("files", state.file, state.file.name || "photo.jpg");
  form.append("k", $("k").value);
  for (const f of activeFilters()) form.append("filter", f);
  if (state.crop) form.append("crop", state.crop.join(","));
  setStatus("Searching…");
  document.body.classList.add("busy");
  try {
    const out = await api.post("/search", form);
    if (seq !== searchSeq) return;  // a newer search replaced this one
    state.lastHits = out.results;
    renderGrid($("results"), out.results);
    const what = state.crop ? "the boxed item" : "your photo";
    setStatus(out.results.length ? `${out.results.length} products that look like ${what}` : "No product matches these filters.");
  } catch (err) {
    if (seq === searchSeq) { setStatus(err.message, true); $("results").replaceChildren(); }
  } finally {
    if (seq === searchSeq) document.body.classList.remove("busy");
  }
}

// ---- product page -------------------------------------------------------------
async function showProduct(id) {
  $("search-view").hidden = true;
  $("product-view").hidden = false;
  window.scrollTo(0, 0);
  $("similar").replaceChildren();
  $("similar-status").textContent = "Loading…";
  try {
    const p = await api.get("/products/" + encodeURIComponent(id));
    $("p-name").textContent = productName(p);
    $("p-cat").textContent = productCategory(p);
    $("gallery").replaceChildren(...p.images.map((im) => el("img", { src: im.image_url, alt: productName(p) })));
    const meta = Object.entries(p.metadata).filter(([k]) => !["name", "title"].includes(k));
    $("p-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
    const sim = await api.get(`/products/${encodeURIComponent(id)}/similar?k=${$("k").value}`);
    renderGrid($("similar"), sim.results);
    $("similar-status").textContent = sim.results.length ? "" : "No similar products yet.";
  } catch (err) {
    $("similar-status").textContent = err.message;
    $("similar-status").classList.add("error");
  }
}

function route() {
  const m = location.hash.match(/^#\/product\/(.+)$/);
  if (m) { showProduct(decodeURIComponent(m[1])); return; }
  $("product-view").hidden = true;
  $("search-view").hidden = false;
}

$("back").addEventListener("click", (e) => { e.preventDefault(); location.hash = ""; });
window.addEventListener("hashchange", route);
wireDrop();
wireCrop();
loadFacets();
route();
