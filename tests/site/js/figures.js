// Legibility as a reader sees it, at the current viewport: for every figure in a cell's output,
// a graph drawing's smallest label in CSS px, and a raster's image pixels per CSS pixel.
async () => {
  const found = [];
  for (const img of document.querySelectorAll(".cell_output img")) {
    const shown = img.getBoundingClientRect().width;
    if (!shown) continue;
    const src = img.getAttribute("src");
    const bytes = (await (await fetch(img.src)).arrayBuffer()).byteLength;
    if (!src.endsWith(".svg")) {
      // The size the figure was drawn for (myst-nb writes a retina figure's into the style).
      const drawn = parseFloat(img.style.width) || +img.getAttribute("width") || img.naturalWidth;
      const density = img.naturalWidth / shown;
      found.push({src, kind: "raster", bytes, density, scale: shown / drawn});
      continue;
    }
    const text = await (await fetch(img.src)).text();
    const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
    const sizes = [...svg.querySelectorAll("text")].map((t) => +t.getAttribute("font-size"));
    const viewBox = (svg.getAttribute("viewBox") || "").split(/[\s,]+/).map(Number);
    const width = viewBox.length === 4 ? viewBox[2] : parseFloat(svg.getAttribute("width"));
    if (sizes.length && width) {
      found.push({src, kind: "drawing", bytes, text: Math.min(...sizes) * shown / width});
    }
  }
  return found;
}
