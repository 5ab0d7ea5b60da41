// For each code cell on the page, in order: whether it shows an output.
() => [...document.querySelectorAll("div.cell")].map((cell) => {
  const output = cell.querySelector(":scope > .cell_output");
  return Boolean(output && (output.textContent.trim() ||
    output.querySelector("img, svg, canvas, iframe, table, video")));
})
