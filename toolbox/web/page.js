// Run in a rendered MHTML page by toolbox/web/render.py (page.evaluate): restore the values a
// snapshot recorded as attributes, then tag the interactable elements and find a target.
({
  // Mind2Web (and toolbox.web.mhtml.capture_mhtml) record live form state as attributes, since
  // a snapshot keeps only the markup: input_value on inputs, textareas and selects,
  // input_checked on checkboxes and radios, option_selected on options.
  restore() {
    let restored = 0;
    const yes = (el, name) => el.getAttribute(name) !== "false";
    for (const el of document.querySelectorAll("option[option_selected]")) {
      if (yes(el, "option_selected")) {
        el.selected = true;
        restored++;
      }
    }
    for (const el of document.querySelectorAll("[input_value]")) {
      const value = el.getAttribute("input_value");
      if (el instanceof HTMLSelectElement) {
        const option = [...el.options].find((o) => o.value === value || o.text.trim() === value.trim());
        if (option) option.selected = true;
      } else if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
        try {
          el.value = value;
        } catch (e) {
          continue; // a file input takes no value
        }
      } else continue;
      restored++;
    }
    for (const el of document.querySelectorAll("input[input_checked]")) {
      el.checked = yes(el, "input_checked");
      restored++;
    }
    return restored;
  },

  pageHeight() {
    const d = document.documentElement, b = document.body;
    return Math.ceil(Math.max(d.scrollHeight, d.offsetHeight, b ? b.scrollHeight : 0, b ? b.offsetHeight : 0));
  },

  // Interactable: links, buttons, inputs, selects, textareas, role=button/link, and anything whose
  // own cursor (not one inherited from its parent) is a pointer; visible, enabled, on the screen
  // (the viewport), and the element itself at the centre of its visible box (not covered).
  // Tags are numbered in document order; boxes are the visible part, in page pixels.
  tag(args) {
    const W = window.innerWidth, H = window.innerHeight, sx = window.scrollX, sy = window.scrollY;
    const BASIC = "a[href], button, input:not([type=hidden]), select, textarea, [role=button], [role=link]";
    const clean = (s) => (s || "").replace(/\s+/g, " ").trim().slice(0, 80);
    const visibleBox = (el) => {
      const r = el.getBoundingClientRect();
      const x0 = Math.max(r.left, 0), y0 = Math.max(r.top, 0);
      const x1 = Math.min(r.right, W), y1 = Math.min(r.bottom, H);
      return x1 - x0 >= 1 && y1 - y0 >= 1 ? [x0, y0, x1, y1] : null;
    };
    const ownPointer = (el, style) =>
      style.cursor === "pointer" && !(el.parentElement && getComputedStyle(el.parentElement).cursor === "pointer");
    const interactable = (el) => {
      const style = getComputedStyle(el);
      if (style.visibility !== "visible" || style.display === "none" || el.disabled) return false;
      return el.matches(BASIC) || ownPointer(el, style);
    };
    const label = (el) => {
      if (el instanceof HTMLSelectElement) return clean(el.selectedOptions[0] ? el.selectedOptions[0].text : "");
      if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)
        return clean(el.value || el.placeholder || el.getAttribute("aria-label"));
      const img = el.querySelector("img[alt]");
      return clean(el.getAttribute("aria-label") || el.innerText || el.title || (img ? img.alt : ""));
    };
    const tagged = new Map();
    const tags = [];
    for (const el of document.body ? document.body.querySelectorAll("*") : []) {
      if (!interactable(el)) continue;
      const box = visibleBox(el);
      if (!box) continue;
      const hit = document.elementFromPoint((box[0] + box[2]) / 2, (box[1] + box[3]) / 2);
      if (!hit || !(hit === el || el.contains(hit))) continue;
      const n = tags.length;
      tagged.set(el, n);
      const value = "value" in el && typeof el.value === "string" ? el.value : null;
      tags.push({
        n,
        tag: el.tagName.toLowerCase(),
        box: [box[0] + sx, box[1] + sy, box[2] + sx, box[3] + sy].map(Math.round),
        text: label(el),
        role: el.getAttribute("role") || "",
        type: el.getAttribute("type") || "",
        id: el.id || "",
        cls: clean(el.getAttribute("class")),
        node: el.getAttribute("backend_node_id"),
        value: el instanceof HTMLSelectElement ? label(el) : value,
      });
    }
    return { tags, target: args.target ? this.findTarget(args.target, args.maxDistance, tagged) : null };
  },

  // The target's element: by its backend node id attribute, else the element with its id and
  // class (or, with neither, its tag name) nearest its box; then its tag: the element's own, its
  // nearest tagged ancestor's (a click on a span lands on its link), else its first tagged
  // descendant's (a wrapper around an input).
  findTarget(target, maxDistance, tagged) {
    let el = null, how = null;
    if (target.node) {
      el = document.querySelector(`[backend_node_id="${CSS.escape(target.node)}"]`);
      if (el) how = "backend_node_id";
    }
    if (!el) {
      const cls = (s) => (s || "").replace(/\s+/g, " ").trim();
      const wanted = [...document.querySelectorAll(target.id ? `[id="${CSS.escape(target.id)}"]` : "*")].filter(
        (e) =>
          (!target.cls || cls(e.getAttribute("class")) === cls(target.cls)) &&
          (target.id || target.cls || e.tagName.toLowerCase() === target.tag),
      );
      let best = null, bestDistance = Infinity;
      for (const e of wanted) {
        const r = e.getBoundingClientRect();
        let d = 0;
        if (target.box) {
          const [x, y, w, h] = target.box;
          d = Math.hypot(r.left + window.scrollX + r.width / 2 - (x + w / 2), r.top + window.scrollY + r.height / 2 - (y + h / 2));
        }
        if (d < bestDistance) [best, bestDistance] = [e, d];
      }
      if (best && (bestDistance <= maxDistance || (!target.box && wanted.length === 1))) {
        el = best;
        how = target.id || target.cls ? "class/id" : "box";
      } else {
        return { tag: null, how: null, reason: best ? "nearest element with its class/id is too far from its box" : "no element has its backend node id, class or id" };
      }
    }
    let t = el;
    while (t && !tagged.has(t)) t = t.parentElement;
    if (!t) t = [...el.querySelectorAll("*")].find((d) => tagged.has(d)) || null;
    if (t) return { tag: tagged.get(t), how, reason: null };
    const r = el.getBoundingClientRect();
    const onScreen = r.right > 0 && r.bottom > 0 && r.left < window.innerWidth && r.top < window.innerHeight;
    return {
      tag: null,
      how,
      reason: onScreen ? "target is not interactable or is covered at its centre" : "target is outside the rendered screen",
    };
  },
})
