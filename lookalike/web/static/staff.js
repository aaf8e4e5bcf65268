/* Staff view: catalog statistics, ingestion errors, add a product, trigger a reindex (all with the API key). */
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "lookalike-api-key";
const keyHeader = () => ({ "X-API-Key": sessionStorage.getItem(KEY) || "" });

function say(id, text, kind) {
  const m = $(id);
  m.textContent = text;
  m.className = "msg" + (kind ? " " + kind : "");
}

function stat(value, label) {
  return el("div", { class: "stat" }, el("b", { text: String(value) }), el("span", { text: label }));
}

async function loadStats() {
  const s = await api.get("/admin/stats", keyHeader());
  const cards = [stat(s.products, "products"), stat(s.images.ok || 0, "good images"),
    stat(s.images.error || 0, "bad images")];
  for (const [model, info] of Object.entries(s.indexes)) cards.push(stat(info.count, `vectors in ${model} index`));
  $("stats").replaceChildren(...cards);
  $("runs").replaceChildren(...s.runs.map((r) => el("tr", {},
    el("td", { text: String(r.id) }), el("td", { text: r.kind }), el("td", { text: r.status }),
    el("td", { text: new Date(r.started_at * 1000).toLocaleString() }),
    el("td", { text: Object.entries(r.stats).map(([k, v]) => `${k} ${v}`).join(", ") }))));
}

async function loadProblems() {
  const p = await api.get("/admin/problems", keyHeader());
  const rows = [...p.bad_images.map((b) => [`${b.product_id}: ${b.source}`, b.error]),
    ...p.problems.map((x) => [x.item, x.reason])];
  $("problems").replaceChildren(...(rows.length ? rows.map(([item, reason]) =>
    el("tr", {}, el("td", { text: item }), el("td", { text: reason })))
    : [el("tr", {}, el("td", { colspan: "2", class: "muted", text: "No ingestion errors." }))]));
}

async function unlock() {
  try {
    await Promise.all([loadStats(), loadProblems()]);
    $("locked-area").hidden = false;
    say("key-msg", "Unlocked.", "ok");
  } catch (err) {
    $("locked-area").hidden = true;
    say("key-msg", err.message, "error");
  }
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $("api-key").value.trim());
  unlock();
});

$("add-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const field = (n) => e.target.elements.namedItem(n);  // form.id and form.name would shadow the controls
  let meta = {};
  try { meta = field("extra").value.trim() ? JSON.parse(field("extra").value) : {}; } catch (err) {
    say("add-msg", `More metadata is not valid JSON: ${err.message}`, "error");
    return;
  }
  if (field("name").value.trim()) meta.name = field("name").value.trim();
  if (field("category").value.trim()) meta.category = field("category").value.trim();
  const form = new FormData();
  form.append("id", field("id").value.trim());
  form.append("metadata", JSON.stringify(meta));
  for (const file of field("files").files) form.append("files", file, file.name);
  for (const url of field("urls").value.split("\n").map((u) => u.trim()).filter(Boolean)) form.append("urls", url);
  say("add-msg", "Adding, embedding and indexing…");
  try {
    const out = await api.post("/products", form, keyHeader());
    say("add-msg", `Added ${out.id} with ${out.image_ids.length} photo(s); it is searchable now.`, "ok");
    e.target.reset();
    loadStats();
  } catch (err) {
    say("add-msg", err.message, "error");
  }
});

async function pollReindex() {
  const s = await api.get("/reindex", keyHeader());
  if (s.state === "running") {
    say("reindex-msg", "Reindexing… search keeps working meanwhile.");
    setTimeout(pollReindex, 1000);
    return;
  }
  $("reindex").disabled = false;
  if (s.state === "done") {
    say("reindex-msg", "Reindex done: " + Object.entries(s.indexed).map(([m, n]) => `${m} ${n} vectors`).join(", "), "ok");
    loadStats();
  } else if (s.state === "error") say("reindex-msg", s.error, "error");
}

$("reindex").addEventListener("click", async () => {
  $("reindex").disabled = true;
  try {
    await api.post("/reindex", null, keyHeader());
    pollReindex();
  } catch (err) {
    $("reindex").disabled = false;
    say("reindex-msg", err.message, "error");
  }
});

if (sessionStorage.getItem(KEY)) { $("api-key").value = sessionStorage.getItem(KEY); unlock(); }
