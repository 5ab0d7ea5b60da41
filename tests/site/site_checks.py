"""What the site tests check, as functions that work on any HTML: the built book, and the small
deliberately broken pages that show each check can fail.

- ``Browser`` drives Debian's Chromium through Playwright: one browser, one context, one tab per
  use. ``Tab.visit(url)`` loads a page, waits until it is ready to read (images decoded, formulas
  typeset, fonts loaded, no request in flight) and records every request, failed request and
  console error on the way.
- The ``*_problems`` functions each check one thing on a loaded page and return what is wrong,
  as readable strings: an empty list means the page passes.
- ``check_links(folder)`` checks every link and anchor of a folder of HTML without a browser.
"""

from __future__ import annotations

import base64
import os
import posixpath
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from conftest import ROOT
from tools.chromium import CHROMIUM_ARGS, CHROMIUM_CANDIDATES, READY_JS, find_chromium
from tools.notebooks import executed_notebook as executed_notebook  # for test_site

BUILD = ROOT / "_build"
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed (pip install -e '.[test]')"
    if find_chromium() is None:
        return (
            "no Chromium found (looked at $CHROMIUM, "
            + ", ".join(CHROMIUM_CANDIDATES)
            + "): install Debian's 'chromium' package or set CHROMIUM=/path/to/chromium"
        )
    return None


def require_browser() -> None:
    """Skip the calling test where the browser tests cannot run, saying why; under CI (``CI``
    set), fail it instead: there they must run."""
    import pytest

    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run under CI, but {reason}")
    pytest.skip(reason)


@dataclass
class Visit:
    """What happened while one page loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Tab:
    """One tab of the shared browser context, recording what each visit requests."""

    def __init__(self, page):
        self.page = page
        self._cdp = None
        self.current = Visit(url="about:blank")
        # Requests are keyed by the object itself, which also keeps it alive.
        self._owner: dict[object, Visit] = {}
        self._in_flight: set[object] = set()
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_pageerror)

    def _on_request(self, request):
        self._owner[request] = self.current
        self._in_flight.add(request)
        self.current.requests.append(request.url)

    def _on_finished(self, request):
        self._in_flight.discard(request)

    def _on_failed(self, request):
        self._in_flight.discard(request)
        visit = self._owner.get(request, self.current)
        failure = request.failure or "failed"
        if visit is not self.current and "ERR_ABORTED" in failure:
            return  # cut off by our own navigation to the next page
        visit.failed.append(f"{request.url} ({failure})")

    def _on_response(self, response):
        if response.status >= 400:
            visit = self._owner.get(response.request, self.current)
            visit.failed.append(f"{response.url} (HTTP {response.status})")

    def _on_console(self, message):
        if message.type != "error":
            return
        source = message.location.get("url", "")
        where = f" ({source})" if source and source != self.current.url else ""
        self.current.console_errors.append(f"console.error: {message.text}{where}")

    def _on_pageerror(self, error):
        self.current.console_errors.append(f"uncaught: {error}")

    def visit(self, url: str, viewport: dict = DESKTOP) -> Visit:
        start = time.perf_counter()
        self.current = Visit(url=url)
        self._in_flight.clear()
        self.page.set_viewport_size(viewport)
        self.page.goto(url, wait_until="load")
        if self.page.evaluate(READY_JS) != "ready":
            self.current.console_errors.append("the page did not settle within 15 s")
        # Requests started late (fonts, MathJax's pieces) belong to this page too.
        deadline = time.monotonic() + 5
        while self._in_flight and time.monotonic() < deadline:
            self.page.wait_for_timeout(10)
        self.current.seconds = time.perf_counter() - start
        return self.current

    def screenshot(self, path: Path, viewport: dict) -> int:
        """A full-page JPEG at the given viewport; returns the page's width there. Taken
        through Chromium's own protocol: a quarter faster than Playwright's full-page
        screenshot, and JPEG a third faster than PNG, which for pages many screens long adds
        up; plenty for review."""
        self.page.set_viewport_size(viewport)
        width, height = self.page.evaluate(
            """() => new Promise((done) => requestAnimationFrame(() => setTimeout(() => {
                 const root = document.documentElement;
                 done([root.scrollWidth, root.scrollHeight]);
               })))"""
        )
        if self._cdp is None:
            self._cdp = self.page.context.new_cdp_session(self.page)
        shot = self._cdp.send(
            "Page.captureScreenshot",
            {
                "format": "jpeg",
                "quality": 85,
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return width


class Browser:
    """One Chromium and one context for the whole test session."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=find_chromium(), args=CHROMIUM_ARGS
            )
            self.context = self.browser.new_context(viewport=DESKTOP)
        except Exception:
            self._playwright.stop()
            raise

    def new_tab(self) -> Tab:
        return Tab(self.context.new_page())

    def close(self) -> None:
        self.context.close()
        self.browser.close()
        self._playwright.stop()


# --- checks on a loaded page -----------------------------------------------------------------


def third_party_problems(visit: Visit) -> list[str]:
    """Requests to any host but the one that served the page."""
    own = urlsplit(visit.url).netloc
    return [
        f"request to another host: {url}"
        for url in visit.requests
        if urlsplit(url).scheme not in ("data", "blob", "about", "file")
        and urlsplit(url).netloc != own
    ]


def load_problems(visit: Visit) -> list[str]:
    """Failed requests and console errors."""
    return [f"failed request: {failure}" for failure in visit.failed] + visit.console_errors


MATH_JS = r"""() => {
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
}"""


def math_problems(page) -> list[str]:
    return page.evaluate(MATH_JS)


IMAGES_JS = r"""() => {
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
}"""


def image_problems(page) -> list[str]:
    """Images that did not load (zero natural size) and figures without alt text."""
    return page.evaluate(IMAGES_JS)


# Legibility as a reader sees it, at the current viewport: for every figure in a cell's output,
# a graph drawing's smallest label in CSS px, and a raster's image pixels per CSS pixel.
FIGURES_JS = r"""async () => {
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
}"""

SMALLEST_LABEL = {"desktop": 9.0, "phone": 6.0}  # CSS px
# Matplotlib's 10 pt text at its 100 dpi is this many CSS px when a figure is shown at its size.
FIGURE_TEXT = 10 * 100 / 72
SHARP_DENSITY = 1.5  # a raster's pixels per CSS pixel as shown: sharp on a HiDPI screen
LARGEST_RASTER = 400_000  # bytes


def figure_measures(page) -> list[dict]:
    return page.evaluate(FIGURES_JS)


def figure_problems(measures: list[dict], viewport: str) -> list[str]:
    """Graph drawings whose smallest label is too small to read at this viewport, and raster
    figures that are soft on a HiDPI screen or heavier than they need be."""
    problems = []
    for figure in measures:
        where = f"{figure['src']} ({viewport})"
        if figure["kind"] == "drawing" and figure["text"] < SMALLEST_LABEL[viewport]:
            problems.append(
                f"{where}: labels shown at {figure['text']:.1f} px, "
                f"below {SMALLEST_LABEL[viewport]:g} px"
            )
        if figure["kind"] == "raster" and figure["density"] < SHARP_DENSITY:
            problems.append(
                f"{where}: {figure['density']:.2f} image pixels per CSS pixel, "
                f"below {SHARP_DENSITY:g}"
            )
        # A figure wider than the column is shrunk with its text. (Checked on a desktop only:
        # side-by-side panels cannot reflow for a phone, where a reader can zoom: they are sharp.)
        text = FIGURE_TEXT * figure.get("scale", 1)
        if viewport == "desktop" and figure["kind"] == "raster" and text < SMALLEST_LABEL[viewport]:
            problems.append(f"{where}: its text shrunk to about {text:.1f} px")
        if figure["kind"] == "raster" and figure["bytes"] > LARGEST_RASTER:
            problems.append(f"{where}: {figure['bytes']} bytes, over {LARGEST_RASTER}")
    return problems


# Code the reader reads -- a cell's source or a listing of the library, not a cell's output --
# that is wider than its box, so that its lines end out of sight.
WIDE_CODE_JS = r"""() => [...document.querySelectorAll("div.highlight pre")]
  .filter((pre) => !pre.closest(".cell_output") && pre.getBoundingClientRect().width > 0)
  .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
  .map((pre) => pre.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a)))"""


def code_problems(page) -> list[str]:
    """Code blocks (cell sources, listings) that scroll sideways: each one's longest line."""
    return [f"code wider than its box: {line.strip()[:80]}" for line in page.evaluate(WIDE_CODE_JS)]


def language_problems(page) -> list[str]:
    lang = page.evaluate("() => document.documentElement.lang")
    return [] if lang.strip() else ["the page does not set its language (<html lang=...>)"]


OUTPUTS_JS = r"""() => [...document.querySelectorAll("div.cell")].map((cell) => {
  const output = cell.querySelector(":scope > .cell_output");
  return Boolean(output && (output.textContent.trim() ||
    output.querySelector("img, svg, canvas, iframe, table, video")));
})"""


def expected_outputs(notebook: dict) -> list[bool]:
    """For each code cell the page shows (in order): whether the executed notebook has an output
    for the page to show."""
    expected = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"remove-cell", "remove_cell"}:
            continue
        if tags & {"remove-output", "remove_output"}:
            expected.append(False)
            continue
        expected.append(any(_output_shows(output, tags) for output in cell.get("outputs", [])))
    return expected


def _output_shows(output: dict, tags: set[str]) -> bool:
    kind = output["output_type"]
    if kind == "stream":
        name = output.get("name", "stdout")
        if {f"remove-{name}", f"remove_{name}"} & tags:
            return False
        return bool("".join(output.get("text", "")))
    if kind == "error":
        return True
    # glue(..., display=False) records values under this prefix; the page shows nothing for them.
    return any(not mime.startswith("application/papermill.record/") for mime in output["data"])


def output_problems(page, expected: list[bool]) -> list[str]:
    """Cells whose outputs the notebook has but the page does not show."""
    shown = page.evaluate(OUTPUTS_JS)
    if len(shown) != len(expected):
        return [f"the page shows {len(shown)} code cells, the notebook has {len(expected)}"]
    return [
        f"code cell {number} has an output in the notebook but no output area on the page"
        for number, (want, got) in enumerate(zip(expected, shown, strict=True), start=1)
        if want and not got
    ]


NEIGHBOURS_JS = r"""() => {
  const link = (selector) => { const a = document.querySelector(selector); return a && a.href; };
  return {previous: link("a.left-prev"), next: link("a.right-next")};
}"""


def neighbour_problems(page, previous: str | None, next_: str | None) -> list[str]:
    """The page's previous/next links lead exactly to the given URLs (None: no such link)."""
    found = page.evaluate(NEIGHBOURS_JS)
    problems = []
    for name, want in (("previous", previous), ("next", next_)):
        got = found[name]
        if got != want:
            problems.append(f"{name} link leads to {got}, expected {want}")
    return problems


AXE_OPTIONS = {
    "resultTypes": ["violations"],
    # axe's preload fetches @import-ed stylesheets resolved against the page instead of the
    # stylesheet (a request for /basic.css that 404s); nothing it checks needs them.
    "preload": False,
}
SERIOUS = ("serious", "critical")
CODE = ".highlight"

# Marks, inside code blocks, one element per text style not met before, and returns the styles.
SAMPLE_CODE_STYLES_JS = r"""(known) => {
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
}"""


def axe_violations(page, code_styles: set[str] | None = None) -> list[dict]:
    """axe-core's violations on the loaded page, each with its impact.

    All of axe's rules run on the whole page, but for one shortcut. Colour contrast inside code
    blocks is where axe spends most of its time -- every highlighted token is an element --
    while all tokens take their colours from the same stylesheet. So the contrast of code text
    is checked on one element per distinct style (colour, background, font size and weight):
    the first met on the page, or in the session if the caller passes the same ``code_styles``
    set for every page."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(Axe().axe_script)
    code_styles = set() if code_styles is None else code_styles
    fresh = page.evaluate(SAMPLE_CODE_STYLES_JS, sorted(code_styles))
    code_styles.update(fresh)
    everything_else = {**AXE_OPTIONS, "rules": {"color-contrast": {"enabled": False}}}
    contrast = {**AXE_OPTIONS, "runOnly": {"type": "rule", "values": ["color-contrast"]}}
    # An include inside an exclude counts: the marked samples are checked, the rest of code not.
    sampled = {"include": [["html"], ["[data-axe-sample]"]], "exclude": [[CODE]]}
    runs = [({"include": [["html"]]}, everything_else), (sampled, contrast)]
    merged: dict[str, dict] = {}
    for context, options in runs:
        result = page.evaluate("([c, o]) => axe.run(c, o)", [context, options])
        for violation in result["violations"]:
            if violation["id"] in merged:
                merged[violation["id"]]["nodes"] += violation["nodes"]
            else:
                merged[violation["id"]] = violation
    return list(merged.values())


def describe_violation(violation: dict) -> str:
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
    more = len(violation["nodes"]) - 3
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}" + (
        f" and {more} more" if more > 0 else ""
    )


def accessibility_problems(violations: list[dict]) -> list[str]:
    return [describe_violation(v) for v in violations if v["impact"] in SERIOUS]


def search(tab: Tab, base: str, query: str) -> list[str]:
    """The result URLs (without anchors) of the site's own search for ``query``."""
    tab.page.goto(f"{base}search.html?q={quote(query)}", wait_until="load")
    tab.page.wait_for_function(
        """() => { const t = document.querySelector("#search-results h2");
                   return t && t.textContent.trim() === "Search Results"; }""",
        timeout=15000,
    )
    links = tab.page.evaluate(
        """() => [...document.querySelectorAll("#search-results ul.search > li > a")]
                 .map((a) => a.href.split("#")[0])"""
    )
    return list(dict.fromkeys(links))


# --- links in a folder of HTML, without a browser --------------------------------------------

# Attributes that refer to another file: (tag, attribute) -> whether it is embedded in the page
# (loaded with it) rather than followed by the reader.
REFERENCES = {
    ("a", "href"): False,
    ("area", "href"): False,
    ("form", "action"): False,
    ("link", "href"): None,  # decided by rel
    ("script", "src"): True,
    ("img", "src"): True,
    ("iframe", "src"): True,
    ("source", "src"): True,
    ("video", "src"): True,
    ("video", "poster"): True,
    ("audio", "src"): True,
    ("embed", "src"): True,
    ("object", "data"): True,
}
EMBEDDING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "prefetch"}


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, bool]] = []  # (url, embedded)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(name):
                self.ids.add(attributes[name])
        for (ref_tag, attribute), embedded in REFERENCES.items():
            if tag != ref_tag or attributes.get(attribute) is None:
                continue
            if embedded is None:
                rels = set((attributes.get("rel") or "").lower().split())
                embedded = bool(rels & EMBEDDING_RELS)
            self.refs.append((attributes[attribute], embedded))


@dataclass
class LinkReport:
    broken: list[str] = field(default_factory=list)  # "page: url (why)"
    external: dict[str, set[str]] = field(default_factory=dict)  # url -> pages linking it
    embedded_external: list[str] = field(default_factory=list)  # "page: url"
    checked: int = 0


def html_pages(folder: Path) -> list[Path]:
    """The site's pages: every .html file except the theme's templates under _static/."""
    return sorted(
        path
        for path in folder.rglob("*.html")
        if not any(part.startswith(("_static", ".")) for part in path.relative_to(folder).parts)
    )


def check_links(folder: Path) -> LinkReport:
    """Every link and anchor of every page of ``folder``: internal ones must resolve, external
    ones are listed (never fetched), and nothing embedded in a page may come from another host."""
    report = LinkReport()
    parsed: dict[Path, _Refs] = {}

    def parse(path: Path) -> _Refs:
        if path not in parsed:
            parser = _Refs()
            parser.feed(path.read_text(errors="replace"))
            parsed[path] = parser
        return parsed[path]

    for page in html_pages(folder):
        name = page.relative_to(folder).as_posix()
        for url, embedded in parse(page).refs:
            report.checked += 1
            parts = urlsplit(url.strip())
            if parts.scheme in ("javascript", "data"):
                continue
            if parts.scheme or parts.netloc:
                report.external.setdefault(url.strip(), set()).add(name)
                if embedded:
                    report.embedded_external.append(f"{name}: {url}")
                continue
            if parts.path:
                target_name = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), unquote(parts.path))
                )
                if target_name == ".." or target_name.startswith("../"):
                    report.broken.append(f"{name}: {url} (outside the site)")
                    continue
                target = folder / target_name
            else:
                target = page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                report.broken.append(f"{name}: {url} (no such file)")
                continue
            anchor = unquote(parts.fragment)
            if anchor and target.suffix == ".html" and anchor not in parse(target).ids:
                report.broken.append(f"{name}: {url} (no anchor #{anchor})")
    return report


def write_external_report(report: LinkReport, path: Path) -> None:
    lines = [
        "# External links of the built site, with the pages that link them.",
        "# Listed for review, not fetched: the tests run without a network.",
    ]
    for url in sorted(report.external):
        lines.append(f"{url}\t{', '.join(sorted(report.external[url]))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
