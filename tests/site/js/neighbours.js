// Where the page's previous and next links lead (null where there is none).
() => {
  const link = (selector) => { const a = document.querySelector(selector); return a && a.href; };
  return {previous: link("a.left-prev"), next: link("a.right-next")};
}
