// The page's full width and height in CSS px, once the browser has laid it out at the current
// viewport.
() => new Promise((done) => requestAnimationFrame(() => setTimeout(() => {
  const root = document.documentElement;
  done([root.scrollWidth, root.scrollHeight]);
})))
