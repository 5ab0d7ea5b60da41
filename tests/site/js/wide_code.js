// Code the reader reads -- a cell's source or a listing of the library, not a cell's output --
// that is wider than its box, so that its lines end out of sight: each block's longest line.
() => [...document.querySelectorAll("div.highlight pre")]
  .filter((pre) => !pre.closest(".cell_output") && pre.getBoundingClientRect().width > 0)
  .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
  .map((pre) => pre.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a)))
