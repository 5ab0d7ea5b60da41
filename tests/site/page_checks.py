"""Checks of one page as the browser loaded it, that work on any HTML: the built book, and the
small deliberately broken pages that show each check can fail.

Each ``*_problems`` function checks one thing and returns what is wrong, as readable strings:
an empty list means the page passes. The JavaScript each runs in the page is in js/.
``search`` asks the site's own search. Accessibility (axe-core) is in accessibility.py.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from browser import SETTLE_SECONDS, Tab, Visit, script

MATH_JS = script("math")
IMAGES_JS = script("images")
FIGURES_JS = script("figures")
WIDE_CODE_JS = script("wide_code")
OUTPUTS_JS = script("outputs")
NEIGHBOURS_JS = script("neighbours")
SEARCH_DONE_JS = script("search_done")
SEARCH_RESULTS_JS = script("search_results")


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


def math_problems(page) -> list[str]:
    """Raw TeX left in the text, formulas not typeset, undefined macros and TeX errors."""
    return page.evaluate(MATH_JS)


def image_problems(page) -> list[str]:
    """Images that did not load (zero natural size) and figures without alt text."""
    return page.evaluate(IMAGES_JS)


# --- figures legible at a viewport -----------------------------------------------------------

SMALLEST_LABEL = {"desktop": 9.0, "phone": 6.0}  # CSS px
# Matplotlib's 10 pt text at its 100 dpi is this many CSS px when a figure is shown at its size.
FIGURE_TEXT = 10 * 100 / 72
SHARP_DENSITY = 1.5  # a raster's pixels per CSS pixel as shown: sharp on a HiDPI screen
LARGEST_RASTER = 400_000  # bytes


def figure_measures(page) -> list[dict]:
    """Every figure of a cell's output at the current viewport: a graph drawing's smallest label
    in CSS px, a raster's image pixels per CSS pixel and how far it is shrunk, and its bytes."""
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
        shrunk = figure["kind"] == "raster" and text < SMALLEST_LABEL[viewport]
        if viewport == "desktop" and shrunk:
            problems.append(f"{where}: its text shrunk to about {text:.1f} px")
        if figure["kind"] == "raster" and figure["bytes"] > LARGEST_RASTER:
            problems.append(f"{where}: {figure['bytes']} bytes, over {LARGEST_RASTER}")
    return problems


# --- code and cell outputs -------------------------------------------------------------------


def code_problems(page) -> list[str]:
    """Code blocks (cell sources, listings) that scroll sideways: each one's longest line."""
    lines = page.evaluate(WIDE_CODE_JS)
    return [f"code wider than its box: {line.strip()[:80]}" for line in lines]


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


# --- navigation ------------------------------------------------------------------------------


def neighbour_problems(page, previous: str | None, next_: str | None) -> list[str]:
    """The page's previous/next links lead exactly to the given URLs (None: no such link)."""
    found = page.evaluate(NEIGHBOURS_JS)
    problems = []
    for name, want in (("previous", previous), ("next", next_)):
        got = found[name]
        if got != want:
            problems.append(f"{name} link leads to {got}, expected {want}")
    return problems


def search(tab: Tab, base: str, query: str) -> list[str]:
    """The result URLs (without anchors) of the site's own search for ``query``."""
    tab.page.goto(f"{base}search.html?q={quote(query)}", wait_until="load")
    tab.page.wait_for_function(SEARCH_DONE_JS, timeout=SETTLE_SECONDS * 1000)
    links = tab.page.evaluate(SEARCH_RESULTS_JS)
    return list(dict.fromkeys(links))
