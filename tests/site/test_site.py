"""The site as readers meet it: every page of _toc.yml, freshly built, in a real browser.

The built `_build/html` is served on a loopback port and read by Debian's Chromium through
Playwright (one browser, one context for the whole session). Each page is loaded once; the tests
below then check what that visit saw: no console error or failed request, no request to another
host, every formula typeset, every image loaded and described, every code cell's output shown,
previous/next links to the neighbouring chapters, no serious accessibility violation (axe-core),
figures legible and code and pages that fit their width, on a desktop and a phone.
_build/screenshots/report.txt lists each page's time and every axe finding, for review; with
``SCREENSHOTS`` set (``SCREENSHOTS=1 make test``), a full-page screenshot of every page at both
widths goes there too (they take a third of the browser's time, so only when asked for).

The last tests feed the same checks small, deliberately broken pages, to show each one fails.

Without Chromium (or Playwright) the tests skip, saying why; under CI (``CI`` set) they fail.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from accessibility import (
    accessibility_problems,
    axe_violations,
    describe_violation,
    language_problems,
)
from browser import DESKTOP, PHONE, Browser, Visit, browser_unavailable, require_browser
from page_checks import (
    code_problems,
    expected_outputs,
    figure_measures,
    figure_problems,
    image_problems,
    load_problems,
    math_problems,
    neighbour_problems,
    output_problems,
    search,
    third_party_problems,
)

from conftest import HTML
from tools import chromium
from tools.build_book import toc_pages
from tools.chromium import serve
from tools.notebooks import executed_notebook

pytestmark = pytest.mark.xdist_group("browser")
PAGES = toc_pages()
SCREENSHOTS = HTML.parent / "screenshots"
TAKE_SCREENSHOTS = bool(os.environ.get("SCREENSHOTS"))


def no_problems(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def browser():
    require_browser()
    chromium = Browser()
    yield chromium
    chromium.close()


@dataclass
class PageResult:
    visit: Visit
    math: list[str]
    images: list[str]
    outputs: list[str]
    neighbours: list[str]
    language: list[str]
    violations: list[dict] = field(default_factory=list)
    page_widths: dict[str, int] = field(default_factory=dict)  # per viewport
    figures: list[str] = field(default_factory=list)  # legibility problems, at both viewports
    code: list[str] = field(default_factory=list)  # code that scrolls sideways on a desktop
    seconds: dict[str, float] = field(default_factory=dict)  # per phase


class Site:
    """The built book, served and visited page by page (each page once, on first use)."""

    def __init__(self, browser: Browser, base: str):
        self.base = base
        self.tab = browser.new_tab()
        self.results: dict[str, PageResult] = {}
        self.code_styles: set[str] = set()  # code text styles whose contrast axe has checked
        self.extra_seconds = 0.0

    def url(self, page: str | None) -> str | None:
        return None if page is None else f"{self.base}{page}.html"

    def result(self, page: str) -> PageResult:
        if page not in self.results:
            self.results[page] = self._check(page)
        return self.results[page]

    def _check(self, page: str) -> PageResult:
        clock = [time.perf_counter()]

        def lap() -> float:
            clock.append(time.perf_counter())
            return clock[-1] - clock[-2]

        index = PAGES.index(page)
        previous = PAGES[index - 1] if index > 0 else None
        next_ = PAGES[index + 1] if index + 1 < len(PAGES) else None
        visit = self.tab.visit(self.url(page))
        load = lap()
        tab = self.tab.page
        result = PageResult(
            visit=visit,
            math=math_problems(tab),
            images=image_problems(tab),
            outputs=self._output_problems(page),
            neighbours=neighbour_problems(tab, self.url(previous), self.url(next_)),
            language=language_problems(tab),
        )
        checks = lap()
        result.violations = axe_violations(tab, self.code_styles)
        axe = lap()
        stem = page.replace("/", "_")
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            tab.set_viewport_size(viewport)
            result.figures += figure_problems(figure_measures(tab), width)
            if width == "desktop":
                result.code = code_problems(tab)
            path = SCREENSHOTS / f"{stem}-{width}.jpg" if TAKE_SCREENSHOTS else None
            result.page_widths[width] = self.tab.page_width(viewport, path)
        result.seconds = {"load": load, "checks": checks, "axe": axe, "widths": lap()}
        return result

    def _output_problems(self, page: str) -> list[str]:
        notebook = executed_notebook(page)
        if notebook is None:
            return [f"no executed notebook for {page}: was its source changed during the build?"]
        return output_problems(self.tab.page, expected_outputs(notebook))

    def write_report(self, path: Path) -> None:
        phases = ("load", "checks", "axe", "widths")
        total = {phase: sum(r.seconds[phase] for r in self.results.values()) for phase in phases}
        lines = [
            f"Browser checks of {len(self.results)} pages: "
            f"{sum(total.values()) + self.extra_seconds:.1f} s in all ("
            + ", ".join(f"{phase} {total[phase]:.1f} s" for phase in phases)
            + f", search and offline reading {self.extra_seconds:.1f} s)",
            "",
        ]
        for page, result in self.results.items():
            lines.append(
                f"{page}: {sum(result.seconds.values()):.1f} s ("
                + ", ".join(f"{phase} {result.seconds[phase]:.1f}" for phase in phases)
                + f"), {len(result.visit.requests)} requests"
            )
            lines += [f"    axe {describe_violation(v)}" for v in result.violations]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def site(built_site, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in [*SCREENSHOTS.glob("*.png"), *SCREENSHOTS.glob("*.jpg")]:
        old.unlink()
    with serve(HTML) as base:
        checked = Site(browser, base)
        yield checked
        checked.write_report(SCREENSHOTS / "report.txt")


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_without_console_errors_or_failed_requests(site, page):
    no_problems(load_problems(site.result(page).visit))


@pytest.mark.parametrize("page", PAGES)
def test_page_requests_nothing_from_another_host(site, page):
    no_problems(third_party_problems(site.result(page).visit))


@pytest.mark.parametrize("page", PAGES)
def test_every_formula_is_typeset(site, page):
    no_problems(site.result(page).math)


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads_and_has_alt_text(site, page):
    no_problems(site.result(page).images)


@pytest.mark.parametrize("page", PAGES)
def test_every_code_cell_output_is_shown(site, page):
    no_problems(site.result(page).outputs)


@pytest.mark.parametrize("page", PAGES)
def test_previous_and_next_lead_to_the_neighbouring_chapters(site, page):
    no_problems(site.result(page).neighbours)


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_accessibility_violation(site, page):
    result = site.result(page)
    no_problems(result.language + accessibility_problems(result.violations))


@pytest.mark.parametrize("page", PAGES)
def test_no_sideways_scrolling_on_a_desktop(site, page):
    width, screen = site.result(page).page_widths["desktop"], DESKTOP["width"]
    assert width <= screen, f"{page} is {width} px wide on a {screen} px desktop"


@pytest.mark.parametrize("page", PAGES)
def test_no_sideways_scrolling_on_a_phone(site, page):
    width = site.result(page).page_widths["phone"]
    assert width <= PHONE["width"], f"{page} is {width} px wide on a {PHONE['width']} px phone"


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_is_legible_on_a_desktop_and_a_phone(site, page):
    """Graph drawings: labels at >= 9 px on a desktop, >= 6 px on a phone. Rasters: >= 1.5 image
    pixels per CSS pixel (sharp on a HiDPI screen), and no heavier than they need be."""
    no_problems(site.result(page).figures)


@pytest.mark.parametrize("page", PAGES)
def test_no_code_scrolls_sideways_on_a_desktop(site, page):
    """Every line of a cell's source and of a library listing is in view: none ends off
    the right edge of its box."""
    no_problems(site.result(page).code)


@pytest.mark.parametrize(
    ("query", "chapter"),
    [
        ("backpropagation", "book/05_backpropagation"),
        ("perceptron", "book/06_multilayer_perceptrons"),
    ],
)
def test_search_finds_the_chapter(site, query, chapter):
    start = time.perf_counter()
    assert site.url(chapter) in search(site.tab, site.base, query)
    site.extra_seconds += time.perf_counter() - start


def test_search_finds_nothing_for_a_word_not_in_the_book(site):
    """The search check is not vacuous: a word absent from the book gives no result."""
    start = time.perf_counter()
    assert search(site.tab, site.base, "xylophonequokka") == []
    site.extra_seconds += time.perf_counter() - start


def test_the_site_reads_from_disk_without_a_network(site):
    """A reader who downloaded _build/html opens it from disk: the page with the most formulas
    and figures still shows them all, and nothing is requested from any network."""
    start = time.perf_counter()

    def weight(page: str) -> int:
        html = (HTML / f"{page}.html").read_text()
        return html.count('class="math') + html.count("<img")

    page = max(PAGES, key=weight)
    tab = site.tab
    visit = tab.visit((HTML / f"{page}.html").as_uri())
    assert [url for url in visit.requests if not url.startswith(("file:", "data:"))] == []
    no_problems(load_problems(visit) + math_problems(tab.page) + image_problems(tab.page))
    site.extra_seconds += time.perf_counter() - start


# --- each check fails where it should -----------------------------------------------------

GOOD_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    '<rect width="40" height="20" fill="#369"/></svg>'
)
# Each page names its icon, as the site's pages do; without one the browser asks for /favicon.ico.
HEAD = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
    '<link rel="icon" href="good.svg">'
)
MATHJAX = (
    '<script>window.MathJax = {options: {processHtmlClass: "math"}}</script>'
    '<script defer src="mathjax/tex-chtml.js"></script>'
)
BROKEN_PAGES = {
    # A page that passes every check: the checks do not fail everything.
    "good.html": HEAD.format(title="Good")
    + MATHJAX
    + '</head><body><main><h1>Good</h1><p>Inline <span class="math">\\(x^2\\)</span>.</p>'
    + '<div class="math">\\[ \\sum_i w_i x_i \\]</div>'
    + '<img src="good.svg" alt="A blue rectangle.">'
    + '<div class="cell"><div class="cell_input"><pre>1 + 1</pre></div>'
    + '<div class="cell_output"><pre>2</pre></div></div>'
    + '<a class="left-prev" href="first.html">back</a>'
    + '<a class="right-next" href="third.html">on</a>'
    + "</main></body></html>",
    "third-party.html": HEAD.format(title="Third party")
    + '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
    + "</head><body><main><h1>Third party</h1>"
    + '<img src="https://cdn.example.com/logo.png" alt="logo">'
    + "</main></body></html>",
    "errors.html": HEAD.format(title="Errors")
    + '<link rel="stylesheet" href="missing.css"></head><body><main><h1>Errors</h1>'
    + '<script>console.error("something broke")</script><script>notAFunction()</script>'
    + "</main></body></html>",
    "raw-math.html": HEAD.format(title="Raw math")
    + "</head><body><main><h1>Raw math</h1><p>The loss is $$L = (y - t)^2$$ here.</p>"
    + '<div class="math">\\begin{align} a &amp;= b \\end{align}</div></main></body></html>',
    "tex-error.html": HEAD.format(title="TeX error")
    + MATHJAX
    + '</head><body><main><h1>TeX error</h1><div class="math">\\[ \\undefinedmacro{x} \\]</div>'
    + '<div class="math">\\[ \\begin{foo} x \\end{foo} \\]</div></main></body></html>',
    "images.html": HEAD.format(title="Images")
    + '</head><body><main><h1>Images</h1><img src="nowhere.png" alt="Missing.">'
    + '<img src="broken.svg" alt="Broken."><img src="good.svg">'
    + '<img src="good.svg" alt=" "></main></body></html>',
    "outputs.html": HEAD.format(title="Outputs")
    + '</head><body><main><h1>Outputs</h1><div class="cell"><div class="cell_input">'
    + '<pre>print("lost")</pre></div></div><div class="cell"><div class="cell_input"><pre>2</pre>'
    + '</div><div class="cell_output"><pre>2</pre></div></div></main></body></html>',
    "neighbours.html": HEAD.format(title="Neighbours")
    + '</head><body><main><h1>Neighbours</h1><a class="left-prev" href="elsewhere.html">back</a>'
    + "</main></body></html>",
    # Images fit the column, as the book's theme makes them.
    "figures.html": HEAD.format(title="Figures")
    + "<style>img { max-width: 100%; height: auto }</style>"
    + '</head><body><main><h1>Figures</h1><div class="cell_output">'
    + '<img src="sharp.png" width="300" alt="A sharp raster.">'
    + '<img src="narrow.svg" alt="A small graph.">'
    + '<img src="soft.png" alt="A soft raster."><img src="heavy.png" width="300" alt="Noise.">'
    + '<img src="wide.svg" alt="A wide graph.">'
    + '<img src="long.png" style="width: 2000px" alt="A figure wider than the column.">'
    + "</div></main></body></html>",
    "code.html": HEAD.format(title="Code")
    + "<style>main { width: 400px } pre { overflow-x: auto }</style>"
    + '</head><body><main><h1>Code</h1><div class="highlight"><pre>short = 1</pre></div>'
    + '<div class="cell_output"><div class="highlight"><pre>'
    + "an output may be as wide as it likes " * 3
    + '</pre></div></div><div class="highlight"><pre>'
    + "a_listing_line = 'that runs on and on and on, well past the edge of its box'"
    + "</pre></div></main></body></html>",
    "wide.html": HEAD.format(title="Wide")
    + '</head><body><main><h1>Wide</h1><table style="width: 1600px"><tr><td>A table wider'
    + " than any screen.</td></tr></table></main></body></html>",
    "inaccessible.html": "<!DOCTYPE html><html><head><title>Inaccessible</title></head><body>"
    + '<main><h1>Inaccessible</h1><img src="good.svg"><button></button>'
    + '<p style="color: #ccc; background: #fff">Faint text</p>'
    + '<div class="highlight"><pre><span style="color: #000">ok</span> '
    + '<span style="color: #ddd">faint_code</span></pre></div></main></body></html>',
}


@pytest.fixture(scope="session")
def broken_site(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken-site")
    for name, html in BROKEN_PAGES.items():
        (folder / name).write_text(html)
    (folder / "good.svg").write_text(GOOD_SVG)
    (folder / "broken.svg").write_text("<svg this is not XML")
    # Figures: graph drawings with their smallest label at 14 units in a 200 or a 3000 unit wide
    # picture; rasters drawn at two pixels per CSS pixel, at one, a heavy one, and one drawn for
    # 2000 px, which a column shrinks with its text.
    for name, width in (("narrow.svg", 200), ("wide.svg", 3000)):
        (folder / name).write_text(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40"'
            f' viewBox="0 0 {width} 40" style="max-width: 100%; height: auto">'
            '<g class="node"><text x="10" y="20" font-size="14">W</text></g></svg>'
        )
    from PIL import Image

    Image.new("RGB", (600, 200), "#369").save(folder / "sharp.png")
    Image.new("RGB", (300, 100), "#369").save(folder / "soft.png")
    Image.new("RGB", (4000, 100), "#369").save(folder / "long.png")
    noise = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "heavy.png")
    # The same MathJax the site serves: sphinx-mathjax-offline's copy.
    package = importlib.util.find_spec("sphinx-mathjax-offline")
    assert package, "sphinx-mathjax-offline is not installed (pip install -e '.[book]')"
    (folder / "mathjax").symlink_to(
        Path(package.submodule_search_locations[0]) / "static" / "mathjax"
    )
    with serve(folder) as base:
        tab = browser.new_tab()

        def visit(name: str):
            return tab.visit(base + name), tab.page, base

        visit.tab = tab
        yield visit


def test_the_good_page_passes_every_check(broken_site):
    visit, page, base = broken_site("good.html")
    assert load_problems(visit) == []
    assert third_party_problems(visit) == []
    assert math_problems(page) == []
    assert image_problems(page) == []
    assert output_problems(page, [True]) == []
    assert neighbour_problems(page, base + "first.html", base + "third.html") == []
    assert language_problems(page) + accessibility_problems(axe_violations(page)) == []


def test_a_third_party_request_fails(broken_site):
    visit, _, _ = broken_site("third-party.html")
    problems = third_party_problems(visit)
    assert any("fonts.googleapis.com" in p for p in problems), problems
    assert any("cdn.example.com" in p for p in problems), problems


def test_console_errors_and_failed_requests_fail(broken_site):
    visit, _, _ = broken_site("errors.html")
    problems = "\n".join(load_problems(visit))
    assert "missing.css (HTTP 404)" in problems
    assert "something broke" in problems
    assert "notAFunction" in problems


def test_an_untypeset_formula_fails(broken_site):
    _, page, _ = broken_site("raw-math.html")
    problems = "\n".join(math_problems(page))
    assert "raw TeX in the text" in problems and "$$L" in problems
    assert "\\\\begin{align}" in problems
    assert "formula not typeset" in problems


def test_a_tex_error_fails(broken_site):
    _, page, _ = broken_site("tex-error.html")
    problems = math_problems(page)
    assert len(problems) == 2, problems
    assert problems[0].startswith("undefined TeX macro \\undefinedmacro")
    assert problems[1].startswith("TeX error \"Unknown environment 'foo'\"")


def test_a_missing_image_or_alt_text_fails(broken_site):
    _, page, _ = broken_site("images.html")
    assert sorted(image_problems(page)) == [
        "figure with empty alt text: good.svg",
        "image did not load: broken.svg",
        "image did not load: nowhere.png",
        "image without alt attribute: good.svg",
    ]


def test_a_missing_output_area_fails(broken_site):
    _, page, _ = broken_site("outputs.html")
    assert output_problems(page, [True, True]) == [
        "code cell 1 has an output in the notebook but no output area on the page"
    ]
    assert output_problems(page, [True]) == ["the page shows 2 code cells, the notebook has 1"]


def test_small_labels_soft_and_heavy_rasters_fail(broken_site):
    _, page, _ = broken_site("figures.html")
    page.set_viewport_size(DESKTOP)
    desktop = figure_problems(figure_measures(page), "desktop")
    page.set_viewport_size(PHONE)
    phone = figure_problems(figure_measures(page), "phone")
    shrunk = [problem for problem in desktop if "its text shrunk" in problem]
    assert len(shrunk) == 1 and shrunk[0].startswith("long.png"), desktop
    for problems in ([p for p in desktop if p not in shrunk], phone):
        assert sorted(problem.split(" (")[0] for problem in problems) == [
            "heavy.png",
            "soft.png",
            "wide.svg",
        ], problems
        text = "\n".join(problems)
        assert "soft.png" in text.split("image pixels per CSS pixel")[0]
        assert "wide.svg" in text.split("px, below")[0] and "bytes, over" in text


def test_code_that_scrolls_sideways_fails(broken_site):
    _, page, _ = broken_site("code.html")
    ((problem,),) = [code_problems(page)]
    assert problem.startswith("code wider than its box: a_listing_line = 'that runs on")


def test_a_page_wider_than_the_screen_fails(broken_site, tmp_path):
    """The width the sideways-scrolling tests compare with the screen's: the page's own, the
    same with a screenshot or without."""
    for name, wide in (("good.html", False), ("wide.html", True)):
        broken_site(name)
        for viewport in (DESKTOP, PHONE):
            width = broken_site.tab.page_width(viewport)
            shot = tmp_path / f"{name}-{viewport['width']}.jpg"
            assert broken_site.tab.page_width(viewport, shot) == width and shot.stat().st_size
            assert (width > viewport["width"]) == wide, (name, viewport, width)


def test_wrong_neighbour_links_fail(broken_site):
    _, page, base = broken_site("neighbours.html")
    assert neighbour_problems(page, base + "first.html", base + "third.html") == [
        f"previous link leads to {base}elsewhere.html, expected {base}first.html",
        f"next link leads to None, expected {base}third.html",
    ]


def test_a_serious_accessibility_violation_fails(broken_site):
    _, page, _ = broken_site("inaccessible.html")
    violations = axe_violations(page)
    serious = {v["id"] for v in violations if v["impact"] in ("serious", "critical")}
    assert {"image-alt", "button-name", "color-contrast", "html-has-lang"} <= serious
    contrast = next(v for v in violations if v["id"] == "color-contrast")
    assert sorted(node["html"] for node in contrast["nodes"]) == [
        '<p style="color: #ccc; background: #fff">Faint text</p>',
        '<span style="color: #ddd" data-axe-sample="">faint_code</span>',
    ]
    assert len(accessibility_problems(violations)) == len(serious)
    assert language_problems(page) == ["the page does not set its language (<html lang=...>)"]


def test_without_chromium_the_browser_tests_skip_but_fail_under_ci(monkeypatch):
    monkeypatch.setattr(chromium, "CHROMIUM_CANDIDATES", ["/nonexistent/chromium"])
    monkeypatch.delenv("CHROMIUM", raising=False)
    assert "no Chromium found" in browser_unavailable()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium found"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run under CI, but no Chromium found"):
        require_browser()
