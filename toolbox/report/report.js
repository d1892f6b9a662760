"use strict";
// The datamakr build report. Everything comes from the JSON in #report-data (written by
// toolbox/report/write.py); text is always inserted as text, never as HTML.

const DATA = JSON.parse(document.getElementById("report-data").textContent);
const EPISODES = DATA.episodes || [];
const BY_ID = new Map(EPISODES.map((ep) => [ep.id, ep]));
const PAGE_SIZE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const state = { q: "", status: "", window: "", task: "", reason: "", page: 0, showOcr: false };
let filtered = EPISODES;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const fmtInt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");
const clock = (t) => (typeof t === "number" ? new Date(t * 1000).toISOString().slice(11, 19) : "?");
const day = (t) => (typeof t === "number" ? new Date(t * 1000).toISOString().slice(0, 10) : "");
const secs = (d) => (d < 60 ? `${d.toFixed(1)} s` : `${Math.floor(d / 60)} min ${Math.round(d % 60)} s`);
const offset = (d) => `${d < 0 ? "−" : "+"}${Math.abs(d).toFixed(1)} s`;  // a frame's time from the interval start
const reasonKey = (ep) => (ep.drop ? `${ep.drop.filter}: ${ep.drop.reason}` : "");
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------
// summary

function renderSummary() {
  const st = DATA.summary || {};
  const drops = Array.isArray(st.dropped) ? st.dropped : countDrops();
  const cards = [
    ["records read", st.read ? sum(Object.values(st.read)) : null, st.read ? Object.entries(st.read).map(([k, v]) => `${k}: ${fmtInt(v)}`).join(", ") : ""],
    ["episodes made", st.episodes ?? EPISODES.length, ""],
    ["dropped", sum(drops.map((d) => d.count)), `${drops.length} reason${drops.length === 1 ? "" : "s"}`],
    ["written", st.written ?? EPISODES.filter((e) => e.status === "kept").length, ""],
    ["tokens written", st.tokens ?? null, st.tokenizer ?? "cl100k_base"],
  ];
  if (st.skipped && Object.keys(st.skipped).length) {
    cards.push(["skipped input", sum(Object.values(st.skipped)), Object.entries(st.skipped).map(([k, v]) => `${k}: ${v}`).join(", ")]);
  }
  const known = new Set(["read", "episodes", "dropped", "skipped", "problems", "written", "tokens"]);
  if (typeof st.llm_cost_usd === "number") cards.push(["LLM cost", `$${st.llm_cost_usd.toFixed(st.llm_cost_usd < 1 ? 4 : 2)}`, "llm_cost_usd", "cost"]);
  if (typeof st.llm_requests === "number") cards.push(["LLM requests", st.llm_requests, typeof st.llm_cache_hits === "number" ? `${fmtInt(st.llm_cache_hits)} from cache` : ""]);
  const details = [];  // everything else the build recorded (LLM totals, OCR counts, ...), one level deep
  for (const [key, value] of Object.entries(st)) {
    if (known.has(key) || value === null) continue;
    if (typeof value === "object" && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) details.push([`${key}.${k}`, v]);
    else details.push([key, value]);
  }
  const extra = $("extras");
  extra.hidden = details.length === 0;
  fill(extra.querySelector("tbody"), details.map(([k, v]) => h("tr", {}, h("td", { class: "mono", text: k }),
    h("td", { class: "num", text: typeof v === "number" ? fmtInt(v) : typeof v === "object" ? JSON.stringify(v) : String(v) }))));
  fill($("cards"), ...cards.map(([label, value, note, cls]) =>
    h("div", { class: `card ${cls || ""}`, "data-key": label.toLowerCase() },
      h("div", { class: "value", text: typeof value === "number" ? fmtInt(value) : value ?? "–" }),
      h("div", { class: "label", text: label }),
      note ? h("div", { class: "note", text: note }) : null)));

  const body = $("drops").tBodies[0];
  if (!drops.length) fill(body, h("tr", {}, h("td", { colspan: 3, class: "muted", text: "nothing was dropped" })));
  else fill(body, ...drops.map((d, i) => h("tr", { id: `drop-${i}` },
    h("td", { text: d.filter }),
    h("td", {}, h("a", { href: "#", class: "reason-link", text: d.reason, onclick: (ev) => { ev.preventDefault(); setFilter("reason", `${d.filter}: ${d.reason}`); } })),
    h("td", { class: "num", text: fmtInt(d.count) }))));

  renderHistogram(DATA.histogram || { edges: [], counts: [] });
  const sub = [DATA.output ? `output ${DATA.output}` : null, `made ${DATA.generated}`, `${fmtInt(EPISODES.length)} episodes in this report`];
  $("subtitle").textContent = sub.filter(Boolean).join(" · ");
  const problems = DATA.problems || [];
  if (problems.length) {
    const box = $("problems");
    box.hidden = false;
    box.querySelector("summary").textContent = `${problems.length} problem${problems.length === 1 ? "" : "s"} while reading the input or making the report`;
    fill(box.querySelector("ul"), ...problems.map((p) => h("li", { text: p })));
  }
}

function countDrops() {
  const counts = new Map();
  for (const ep of EPISODES) if (ep.drop) counts.set(reasonKey(ep), (counts.get(reasonKey(ep)) || 0) + 1);
  return [...counts].map(([key, count]) => { const [filter, ...rest] = key.split(": "); return { filter, reason: rest.join(": "), count }; });
}

function renderHistogram({ edges, counts }) {
  const box = $("histogram");
  if (!counts.length) { fill(box, h("p", { class: "muted", text: "no written episodes" })); return; }
  const W = 520, H = 150, pad = 24, max = Math.max(...counts), bw = (W - pad) / counts.length;
  const bars = counts.map((c, i) => {
    const bh = c ? Math.max(2, (c / max) * (H - pad - 8)) : 0;
    return s("rect", { x: pad + i * bw + 1, y: H - pad - bh, width: Math.max(1, bw - 2), height: bh, class: "bar" },
      s("title", { text: `${fmtInt(edges[i])}–${fmtInt(edges[i + 1] - 1)} tokens: ${c} episode${c === 1 ? "" : "s"}` }));
  });
  fill(box, s("svg", { viewBox: `0 0 ${W} ${H}`, class: "hist", role: "img", "aria-label": "token histogram" },
    s("line", { x1: pad, y1: H - pad, x2: W, y2: H - pad, class: "axis" }),
    s("text", { x: pad, y: H - 8, class: "tick", text: fmtInt(edges[0]) }),
    s("text", { x: W, y: H - 8, class: "tick end", text: fmtInt(edges[edges.length - 1]) }),
    s("text", { x: pad - 4, y: 12, class: "tick end", text: fmtInt(max) }),
    ...bars));
}

// ---------------------------------------------------------------------------------------------
// list, search, filters, pages

function prepare() {
  for (const ep of EPISODES) {
    const parts = [ep.id, ep.title, ep.session, ep.task, ...(ep.windows || []), ...(ep.apps || []), reasonKey(ep), ep.drop && ep.drop.detail];
    for (const t of ep.turns || []) {
      parts.push(t.content);
      for (const c of t.calls || []) parts.push(c.name, c.arguments);
    }
    ep._text = parts.filter(Boolean).join("\n").toLowerCase();
  }
  fillSelect("f-window", EPISODES.flatMap((ep) => ep.windows || []));
  fillSelect("f-task", EPISODES.map((ep) => ep.task).filter(Boolean));
  fillSelect("f-reason", EPISODES.map(reasonKey).filter(Boolean));
}

function fillSelect(id, values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) || 0) + 1);
  const sel = $(id);
  for (const [value, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    sel.append(h("option", { value, text: `${value.length > 70 ? value.slice(0, 69) + "…" : value} (${n})` }));
  }
  sel.disabled = counts.size === 0;
}

function matches(ep) {
  if (state.status && ep.status !== state.status) return false;
  if (state.window && !(ep.windows || []).includes(state.window)) return false;
  if (state.task && ep.task !== state.task) return false;
  if (state.reason && reasonKey(ep) !== state.reason) return false;
  if (state.q) return queryTerms(state.q).every((term) => ep._text.includes(term));
  return true;
}

// words must all appear, anywhere; "quoted words" must appear together
const queryTerms = (q) => (q.match(/"[^"]+"|\S+/g) || []).map((t) => t.replace(/^"|"$/g, ""));

function setFilter(key, value) {
  state[key] = value;
  const input = { reason: "f-reason", status: "f-status", window: "f-window", task: "f-task" }[key];
  if (input) $(input).value = value;
  applyFilters();
  $("browse").scrollIntoView({ block: "start" });
}

function applyFilters() {
  filtered = EPISODES.filter(matches);
  state.page = 0;
  renderList();
}

function renderList() {
  const pages = Math.max(1, Math.ceil(filtered.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  const rows = filtered.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
  const current = currentId();
  fill($("list").tBodies[0], ...(rows.length ? rows.map((ep) => listRow(ep, ep.id === current)) :
    [h("tr", {}, h("td", { colspan: 7, class: "muted", text: "no episode matches" }))]));
  $("count").textContent = filtered.length === EPISODES.length ? `${fmtInt(EPISODES.length)} episodes` : `${fmtInt(filtered.length)} of ${fmtInt(EPISODES.length)} episodes`;
  $("page").textContent = `page ${state.page + 1} of ${pages}`;
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
}

function listRow(ep, selected) {
  const when = ep.interval ? `${day(ep.interval[0])} ${clock(ep.interval[0])}–${clock(ep.interval[1])}` : "";
  return h("tr", { class: `row ${ep.status}${selected ? " selected" : ""}`, "data-id": ep.id, tabindex: 0,
    onclick: (ev) => { if (!ev.target.closest("a")) openEpisode(ep.id); },
    onkeydown: (ev) => { if (ev.key === "Enter") openEpisode(ep.id); } },
    h("td", {}, h("span", { class: `badge ${ep.status}`, text: ep.status })),
    h("td", { class: "ep" }, h("div", { class: "ep-title", text: ep.title || "(no user message)" }),
      ep.gist ? h("div", { class: "ep-gist small", text: ep.gist }) : null,
      h("div", { class: "muted small", text: [ep.id, ep.session, when].filter(Boolean).join(" · ") })),
    h("td", { class: "small", text: (ep.windows || []).join(", ") }),
    h("td", { class: "num", text: (ep.turns || []).length }),
    h("td", { class: "num", text: ep.calls ?? 0 }),
    h("td", { class: "num", text: fmtInt(ep.tokens) }),
    h("td", { class: "small" }, ep.drop ? h("a", { href: `#ep=${encodeURIComponent(ep.id)}&why`, class: "why-link", text: reasonKey(ep) }) : ""));
}

// ---------------------------------------------------------------------------------------------
// one episode

function currentId() {
  const m = location.hash.match(/^#ep=([^&]*)/);
  return m ? decodeURIComponent(m[1]) : null;
}

function openEpisode(id) {
  const hash = `#ep=${encodeURIComponent(id)}`;
  if (location.hash === hash) renderDetail(true);
  else location.hash = hash;
}

function onHash() {
  renderDetail(true);
  renderList();
}

function renderDetail(scroll) {
  const id = currentId();
  const box = $("detail");
  const ep = id === null ? null : BY_ID.get(id);
  if (!ep) { box.hidden = true; fill(box); return; }
  box.hidden = false;
  box.classList.toggle("show-ocr", state.showOcr);
  const meta = [
    ep.session && ["session", ep.session],
    ep.interval && ["interval", `${day(ep.interval[0])} ${clock(ep.interval[0])}–${clock(ep.interval[1])} UTC (${secs(ep.interval[1] - ep.interval[0])})`],
    ep.task && ["task", ep.task],
    ep.cut && ["interval cut by", ep.cut],
    (ep.windows || []).length && ["windows", ep.windows.join(" · ")],
    (ep.apps || []).length && ["apps", ep.apps.join(", ")],
    ep.source && ep.source.path && ["source", `${ep.source.path}${ep.source.line ? ":" + ep.source.line : ""}`],
    ["tokens", fmtInt(ep.tokens)],
  ].filter(Boolean);
  fill(box,
    h("div", { class: "detail-head" },
      h("span", { class: `badge ${ep.status}`, text: ep.status }),
      h("h2", { text: ep.title || "(no user message)" }),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "close", "aria-label": "Close episode", text: "✕", onclick: () => { history.replaceState(null, "", location.pathname + location.search); onHash(); } })),
    h("div", { class: "muted small mono", text: ep.id }),
    h("dl", { class: "meta" }, meta.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])),
    ep.drop ? whyBox(ep) : null,
    timeline(ep),
    h("div", { class: "detail-grid" }, chat(ep), framesPanel(ep)));
  if (scroll) (location.hash.endsWith("&why") ? $("why") : box).scrollIntoView({ block: "start" });
}

function whyBox(ep) {
  const index = (DATA.summary && Array.isArray(DATA.summary.dropped) ? DATA.summary.dropped : [])
    .findIndex((d) => d.filter === ep.drop.filter && d.reason === ep.drop.reason);
  return h("div", { id: "why", class: "why" },
    h("strong", { text: `Dropped by ${ep.drop.filter}: ${ep.drop.reason}` }),
    ep.drop.detail ? h("div", { class: "mono small", text: ep.drop.detail }) : null,
    h("div", { class: "small" },
      h("a", { href: "#", text: "all episodes dropped for this reason", onclick: (ev) => { ev.preventDefault(); setFilter("reason", reasonKey(ep)); } }),
      index >= 0 ? [" · ", h("a", { href: "#", text: "in the build summary", onclick: (ev) => { ev.preventDefault(); const row = $(`drop-${index}`); row.classList.add("flash"); row.scrollIntoView({ block: "center" }); } })] : null));
}

function timeline(ep) {
  const line = ep.session && DATA.sessions ? DATA.sessions[ep.session] : null;
  if (!line || !ep.interval) return null;
  const W = 1000, H = 30, span = Math.max(line.end - line.start, 1e-6);
  const x = (t) => ((t - line.start) / span) * W;
  const position = line.intervals.findIndex((iv) => iv[2] === ep.id);
  const segments = line.intervals.map(([a, b, id, status]) =>
    s("rect", { x: x(a), y: 6, width: Math.max(3, x(b) - x(a)), height: H - 12,
      class: `seg ${status}${id === ep.id ? " current" : ""}`, "data-id": id, onclick: () => openEpisode(id) },
    s("title", { text: `${clock(a)}–${clock(b)} ${status}${BY_ID.get(id) ? ": " + (BY_ID.get(id).title || id) : ""}` })));
  const ticks = (ep.frames || []).filter((f) => typeof f.t === "number").map((f) =>
    s("line", { x1: x(f.t), x2: x(f.t), y1: 2, y2: H - 2, class: "frame-tick" }));
  return h("div", { class: "timeline" },
    h("div", { class: "small muted" }, `session ${ep.session}${line.task ? ` — “${line.task}”` : ""}: interval ${position + 1} of ${line.intervals.length}, `,
      `${clock(line.start)}–${clock(line.end)} UTC`),
    s("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", class: "timeline-bar", role: "img", "aria-label": "session timeline" },
      s("rect", { x: 0, y: 10, width: W, height: H - 20, class: "track" }), ...segments, ...ticks));
}

function chat(ep) {
  const turns = (ep.turns || []).map((t) => {
    if (t.role === "tool") {
      return h("div", { class: "msg tool" }, h("div", { class: "who", text: `tool result${t.name ? " · " + t.name : ""}${t.call_id ? " · " + t.call_id : ""}` }),
        h("pre", { class: "content", text: t.content ?? "" }));
    }
    return h("div", { class: `msg ${t.role}` },
      h("div", { class: "who", text: t.role + (t.weight === 0 ? " · weight 0" : "") }),
      t.content ? h("div", { class: "content", text: t.content }) : null,
      (t.calls || []).map((c) => h("div", { class: "call" },
        h("div", { class: "call-name" }, h("span", { class: "fn", text: c.name }), h("span", { class: "muted small", text: ` ${c.id}` })),
        h("pre", { class: "args", text: c.arguments }))));
  });
  return h("div", { class: "chat", "aria-label": "Conversation" },
    ep.system ? h("details", { class: "msg system" }, h("summary", { text: "system prompt" }), h("div", { class: "content", text: ep.system })) : null,
    (ep.tools || []).length ? h("details", { class: "msg system" }, h("summary", { text: `${ep.tools.length} tools: ${ep.tools.map((t) => t.name).join(", ")}` }),
      h("ul", {}, ep.tools.map((t) => h("li", {}, h("span", { class: "fn", text: t.name }), t.description ? ` — ${t.description}` : "")))) : null,
    turns.length ? turns : h("p", { class: "muted", text: "no conversation" }));
}

function framesPanel(ep) {
  const frames = ep.frames || [];
  const start = ep.interval ? ep.interval[0] : null;
  const hasOcr = frames.some((f) => (f.ocr || []).length);
  return h("div", { class: "frames", "aria-label": "Frames" },
    h("div", { class: "frames-bar" },
      h("strong", { text: `${frames.length} frame${frames.length === 1 ? "" : "s"}` }),
      h("span", { class: "spacer" }),
      h("label", { class: hasOcr ? "" : "muted" }, h("input", { type: "checkbox", id: "ocr-toggle", checked: state.showOcr, disabled: !hasOcr,
        onchange: (ev) => { state.showOcr = ev.target.checked; $("detail").classList.toggle("show-ocr", state.showOcr); } }), " OCR boxes")),
    frames.length ? h("div", { class: "frame-grid" }, frames.map((f, i) => frameFigure(ep, f, i, start)))
      : h("p", { class: "muted", text: "no frames for this episode (episodes read from a file carry none)" }));
}

function frameFigure(ep, f, i, start) {
  const caption = [f.reason, typeof f.t === "number" && start !== null ? offset(f.t - start) : null,
    f.marks.length ? `${f.marks.length} action${f.marks.length === 1 ? "" : "s"}` : null, f.ocr.length ? `${f.ocr.length} OCR words` : null].filter(Boolean).join(" · ");
  if (f.missing) return h("figure", { class: "frame missing" }, h("div", { class: "missing-box", text: `frame missing: ${f.name}` }), h("figcaption", { text: caption }));
  return h("figure", { class: "frame" },
    h("button", { type: "button", class: "frame-box", title: "open full size", onclick: () => openLightbox(ep, i) },
      h("img", { src: f.thumb, alt: `${f.name} (${f.reason || "frame"})`, loading: "lazy", width: f.w, height: f.h }),
      overlay(f)),
    h("figcaption", { text: caption }));
}

function overlay(f) {
  const r = Math.max(f.w, f.h) / 70;
  const marks = f.marks.map((m) => s("g", { class: `mark ${m.kind}` },
    m.x2 !== undefined ? s("line", { x1: m.x, y1: m.y, x2: m.x2, y2: m.y2, class: "drag", "stroke-width": r / 3 }) : null,
    s("circle", { cx: m.x, cy: m.y, r, "stroke-width": r / 3 }),
    s("text", { x: m.x, y: m.y, "font-size": r * 1.1, "text-anchor": "middle", "dominant-baseline": "central", text: m.n }),
    s("title", { text: `${m.n}. ${m.kind}${m.target ? ` on “${m.target}”` : ""} at ${Math.round(m.x)}, ${Math.round(m.y)}` })));
  const ocr = f.ocr.map(([x0, y0, x1, y1, text, conf]) =>
    s("rect", { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0), "stroke-width": Math.max(1, f.w / 600) },
      s("title", { text: `${text} (${Math.round(conf * 100)}%)` })));
  return s("svg", { class: "overlay", viewBox: `0 0 ${f.w} ${f.h}`, preserveAspectRatio: "none" },
    s("g", { class: "ocr" }, ocr), marks);
}

// ---------------------------------------------------------------------------------------------
// full-size frames

let lightboxAt = null;  // [episode, frame index] shown full size

function openLightbox(ep, i) {
  const f = ep.frames[i];
  lightboxAt = [ep, i];
  const shown = ep.frames.filter((g) => !g.missing);
  $("lb-caption").textContent = `${f.name} · ${f.reason || "frame"} · ${f.w}×${f.h}` + (shown.length > 1 ? ` · ${shown.indexOf(f) + 1} of ${shown.length} (← →)` : "");
  $("lb-open").href = f.full;
  $("lb-ocr").checked = state.showOcr;
  const stage = $("lb-stage");
  stage.classList.toggle("show-ocr", state.showOcr);
  fill(stage, h("div", { class: "frame-box full", style: `aspect-ratio: ${f.w} / ${f.h}` },
    h("img", { src: f.full, alt: f.name, width: f.w, height: f.h }), overlay(f)));
  $("lightbox").hidden = false;
  $("lb-close").focus();
}

function stepLightbox(delta) {
  const [ep, i] = lightboxAt;
  for (let j = i + delta; j >= 0 && j < ep.frames.length; j += delta) {
    if (!ep.frames[j].missing) { openLightbox(ep, j); return; }
  }
}

function closeLightbox() {
  lightboxAt = null;
  $("lightbox").hidden = true;
  fill($("lb-stage"));
}

// ---------------------------------------------------------------------------------------------

function init() {
  prepare();
  renderSummary();
  let timer = null;
  $("search").addEventListener("input", (ev) => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.q = ev.target.value.trim().toLowerCase(); applyFilters(); }, 120);
  });
  for (const [id, key] of [["f-status", "status"], ["f-window", "window"], ["f-task", "task"], ["f-reason", "reason"]]) {
    $(id).addEventListener("change", (ev) => { state[key] = ev.target.value; applyFilters(); });
  }
  $("f-clear").addEventListener("click", () => {
    Object.assign(state, { q: "", status: "", window: "", task: "", reason: "" });
    for (const id of ["search", "f-status", "f-window", "f-task", "f-reason"]) $(id).value = "";
    applyFilters();
  });
  $("prev").addEventListener("click", () => { state.page -= 1; renderList(); });
  $("next").addEventListener("click", () => { state.page += 1; renderList(); });
  $("lb-close").addEventListener("click", closeLightbox);
  $("lightbox").addEventListener("click", (ev) => { if (ev.target.id === "lightbox" || ev.target.id === "lb-stage") closeLightbox(); });
  $("lb-ocr").addEventListener("change", (ev) => {
    state.showOcr = ev.target.checked;
    $("lb-stage").classList.toggle("show-ocr", state.showOcr);
    $("detail").classList.toggle("show-ocr", state.showOcr);
    const toggle = $("ocr-toggle");
    if (toggle) toggle.checked = state.showOcr;
  });
  document.addEventListener("keydown", (ev) => {
    if ($("lightbox").hidden) return;
    if (ev.key === "Escape") closeLightbox();
    else if (ev.key === "ArrowRight") stepLightbox(1);
    else if (ev.key === "ArrowLeft") stepLightbox(-1);
  });
  window.addEventListener("hashchange", onHash);
  applyFilters();
  renderDetail(Boolean(currentId()));
  document.body.dataset.ready = "1";
}

init();
