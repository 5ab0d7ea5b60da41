// Marks, inside code blocks, one element per text style not in `known`, and returns the styles.
(known) => {
  known = new Set(known);
  const fresh = [];
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const colour = getComputedStyle(el).backgroundColor;
      if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
    }
    return "none";
  };
  for (const el of document.querySelectorAll(".highlight, .highlight *")) {
    const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.data.trim());
    if (!text) continue;
    const style = getComputedStyle(el);
    const key = [style.color, background(el), style.fontSize, style.fontWeight,
                 style.opacity, style.textShadow].join(" | ");
    if (known.has(key)) continue;
    known.add(key);
    fresh.push(key);
    el.setAttribute("data-axe-sample", "");
  }
  return fresh;
}
