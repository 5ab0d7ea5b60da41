// Formulas as a reader sees them: the problems found, as readable strings.
() => {
  const problems = [];
  const clip = (text) => JSON.stringify(text.trim().replace(/\s+/g, " ").slice(0, 80));
  // Raw TeX left in the text, shown or in a solution still folded away (code, and MathJax's
  // own output, do not count). The book writes no dollar sign outside maths and code.
  const raw = /\$|\\begin\{|\\end\{|\\\[|\\\]|\\\(|\\\)/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !raw.test(node.data)) continue;
    if (parent.closest("pre, code, script, style, textarea, mjx-container")) continue;
    problems.push(`raw TeX in the text: ${clip(node.data)}`);
  }
  // Every formula Sphinx wrote out has been typeset, without a TeX error.
  for (const math of document.querySelectorAll(".math")) {
    if (!math.querySelector("mjx-container")) {
      problems.push(`formula not typeset: ${clip(math.textContent)}`);
    }
  }
  // MathJax shows an undefined macro as red text (its "noundefined" extension), not an error.
  for (const text of document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]')) {
    if (text.textContent.startsWith("\\")) {
      problems.push(`undefined TeX macro ${text.textContent} in ` +
        clip(text.closest("mjx-container").parentElement.textContent));
    }
  }
  for (const error of document.querySelectorAll("mjx-merror")) {
    const tex = error.closest("mjx-container");
    problems.push(`TeX error "${error.getAttribute("data-mjx-error") || error.textContent}"` +
      ` in ${clip(tex ? tex.parentElement.textContent : "")}`);
  }
  return problems;
}
