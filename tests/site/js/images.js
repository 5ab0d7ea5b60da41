// Images that did not load, and figures without a text alternative: readable strings.
() => {
  const problems = [];
  const content = document.querySelector("main") || document.body;
  for (const img of document.images) {
    const src = img.getAttribute("src");
    if (!img.complete || img.naturalWidth === 0 || img.naturalHeight === 0) {
      problems.push(`image did not load: ${src}`);
    }
    if (!img.hasAttribute("alt")) {
      problems.push(`image without alt attribute: ${src}`);
    } else if (content.contains(img) && !img.getAttribute("alt").trim()) {
      problems.push(`figure with empty alt text: ${src}`);
    }
  }
  // SVG drawn inline in the text or in a cell's output: it has a size and a text alternative.
  for (const svg of content.querySelectorAll("figure svg, .cell_output svg, .figure svg")) {
    if (svg.parentElement.closest("svg")) continue;
    if (svg.getAttribute("aria-hidden") === "true") continue;
    const box = svg.getBoundingClientRect();
    if (svg.checkVisibility() && (box.width === 0 || box.height === 0)) {
      problems.push(`SVG figure of zero size: ${svg.outerHTML.slice(0, 80)}`);
    }
    const named = svg.getAttribute("aria-label") || svg.getAttribute("aria-labelledby") ||
      (svg.querySelector(":scope > title") || {}).textContent;
    if (!named || !String(named).trim()) {
      problems.push(`SVG figure without a text alternative: ${svg.outerHTML.slice(0, 80)}`);
    }
  }
  return problems;
}
