"""``make pdf``: the whole book as one PDF, printed by Chromium from the single-page build.

The book is built as one HTML page (Sphinx's ``singlehtml`` builder, from the execution cache
that ``make book`` fills), served on a loopback port and opened in the Chromium the browser
tests use, with every other host unreachable. The page is prepared for paper -- a cover, no
navigation, solutions and hidden code unfolded, code wrapped at the margin, each chapter on a
new page -- and printed with a bookmark per heading and page numbers in the footer.

Usage: ``python _ext/build_pdf.py`` writes ``_build/pdf/deep-learning-from-scratch.pdf``.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

from chromium import CHROMIUM_ARGS, READY_JS, find_chromium, serve

ROOT = Path(__file__).resolve().parent.parent
SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "pdf" / "deep-learning-from-scratch.pdf"

# What paper needs and the screen does not: the page without the site's navigation, every
# folded solution and code cell open, code wrapped rather than cut off, chapters on new pages.
PRINT_CSS = """
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
.bd-footer-article, #jb-print-docs-body > h1, .prev-next-area, .toggle-hidden,
button.toggle-button, .headerlink, .skip-link, #pst-back-to-top { display: none !important; }
.bd-container, .bd-page-width, .bd-main, .bd-content, .bd-article-container, .bd-article {
  max-width: none !important; width: 100% !important; margin: 0 !important;
  padding-left: 0 !important; padding-right: 0 !important; }
div.highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible; }
div.math { overflow: visible !important; }
#jb-print-docs-body { break-after: page; }
span[id^="document-"] + section { break-before: page; }
img, svg, figure, div.cell_output { break-inside: avoid; }
#cover { height: 24cm; display: flex; flex-direction: column; justify-content: center;
  text-align: center; break-after: page; }
#cover .title { font-size: 2.6em; font-weight: bold; margin-bottom: 0.6em; }
#cover p { font-size: 1.1em; margin: 0.3em 0; }
"""

UNFOLD_JS = """() => {
  for (const details of document.querySelectorAll("details")) details.open = true;
  for (const hidden of document.querySelectorAll(".toggle-hidden, .toggle-details__container"))
    hidden.classList.remove("toggle-hidden");
  for (const el of document.querySelectorAll("[style*='display: none']"))
    if (el.closest(".solution, .exercise, .cell")) el.style.display = "";
}"""

COVER_JS = """(lines) => {
  const cover = document.createElement("div");
  cover.id = "cover";
  cover.innerHTML = lines.map(([kind, text]) => `<p class="${kind}">${text}</p>`).join("");
  const first = document.querySelector("#jb-print-docs-body") || document.querySelector("article");
  first.parentElement.insertBefore(cover, first);
}"""


def build_single_page() -> None:
    build = [Path(sys.executable).with_name("jupyter-book"), "build", ROOT]
    build += ["--builder", "singlehtml", "-W", "-n", "--keep-going"]
    subprocess.run([str(arg) for arg in build], cwd=ROOT, check=True)
    # The builder writes the book's first page, book/preface.html, with links relative to the
    # output's root (_static/..., _images/...), and only a redirect at the root: put the page
    # where its links work.
    (SINGLE / "index.html").write_text((SINGLE / "book" / "preface.html").read_text())


def cover() -> list[tuple[str, str]]:
    date = (
        subprocess.run(
            ["git", "log", "-1", "--format=%cs"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        or datetime.date.today().isoformat()
    )
    return [
        ("title", "Deep Learning From Scratch"),
        ("", "An executable book, and the small library it builds: <b>deepscratch</b>"),
        ("", "by the deepscratch authors"),
        (
            "",
            "It grew from Daniel Sabinasz's <i>Deep Learning From Scratch -- Theory and "
            "Implementation</i> (deepideas.net, 2017) and its library TensorSlow.",
        ),
        ("", f"Printed from the site as built on {date}"),
    ]


def print_pdf(path: Path = PDF) -> list[str]:
    """Print the single-page build to ``path``; returns what went wrong on the way: requests
    to any other host, or for files the build lacks (there should be none)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with serve(SINGLE) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})

        def check(response) -> None:
            if response.url == base + "searchindex.js":
                return  # the site's search asks for it; the single page has no search
            if not response.url.startswith(base):
                problems.append(f"a request to another host: {response.url}")
            elif response.status >= 400:
                problems.append(f"HTTP {response.status}: {response.url}")

        page.on("response", check)
        page.on(
            "requestfailed",
            lambda request: (
                None
                if request.url == base + "searchindex.js"
                else problems.append(f"failed: {request.url}")
            ),
        )
        page.goto(base, wait_until="load")
        page.evaluate(READY_JS)
        page.add_style_tag(content=PRINT_CSS)
        page.evaluate(UNFOLD_JS)
        page.evaluate(COVER_JS, cover())
        page.emulate_media(media="print")
        path.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(
            path=str(path),
            format="A4",
            margin={"top": "18mm", "bottom": "20mm", "left": "16mm", "right": "16mm"},
            print_background=True,
            outline=True,
            tagged=True,
            display_header_footer=True,
            header_template="<span></span>",
            footer_template=(
                '<div style="font-size: 9px; width: 100%; text-align: center;">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
            ),
        )
        browser.close()
    return problems


def main() -> int:
    build_single_page()
    problems = print_pdf()
    if problems:
        print("while printing:", *problems, sep="\n  ")
        return 1
    print(f"wrote {PDF.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
