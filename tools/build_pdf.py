"""``make pdf``: the whole book as one PDF, printed by Chromium from the single-page build.

The book is built as one HTML page (Sphinx's ``singlehtml`` builder, from the execution cache
that ``make book`` fills), served on a loopback port and opened in the Chromium the browser
tests use, with every other host unreachable. The page is prepared for paper -- a cover, no
navigation, solutions and hidden code unfolded, code wrapped at the margin, each chapter on a
new page -- and printed with page numbers in the footer. The print tells on which page each
chapter starts, for the printed contents to say: the cover and the contents are then printed
again alone, with their numbers, and the contents' pages put in place of the first print's (a
print of the whole book takes most of a minute, the cover and contents a second). Chromium's
own bookmarks lose the space where a heading wraps and repeat some headings twice, so the
outline is rebuilt from the page's headings: the preface, then each part of _toc.yml with its
chapters and their sections.

Usage: ``python tools/build_pdf.py`` writes ``_build/pdf/deep-learning-from-scratch.pdf``.
"""

from __future__ import annotations

import datetime
import difflib
import logging
import re
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.build_book import ROOT
from tools.chromium import CHROMIUM_ARGS, READY_JS, SETTLE_SECONDS, find_chromium, serve

SINGLE = ROOT / "_build" / "singlehtml"
PDF = ROOT / "_build" / "pdf" / "deep-learning-from-scratch.pdf"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

# What paper needs and the screen does not: the page without the site's navigation, every
# folded solution and code cell open, code wrapped rather than cut off, chapters on new pages.
PRINT_CSS = """
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
.bd-footer-article, #jb-print-docs-body > h1, .prev-next-area, .toggle-hidden,
button.toggle-button, .headerlink, .skip-link, #pst-back-to-top { display: none !important; }
.bd-container, .bd-page-width, .bd-main, .bd-content, .bd-article-container, .bd-article {
  max-width: none !important; width: 100% !important; margin: 0 !important;
  padding-left: 0 !important; padding-right: 0 !important; }
details.hide > summary { display: none !important; }
div.highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; overflow: visible; }
div.math { overflow: visible !important; }
table code.literal, table code.literal span.pre { overflow-wrap: normal !important;
  word-break: normal !important; }
#jb-print-docs-body { break-after: page; }
span[id^="document-"] + section { break-before: page; }
img, svg, figure, div.cell_output, div.cell_input.short { break-inside: avoid; }
section > :last-child, div.solution:last-child { margin-bottom: 0 !important; }
#contents .part { font-weight: bold; margin: 0.9em 0 0.3em; }
#contents .entry { display: flex; margin: 0.25em 0 0.25em 1.2em; }
#contents .entry a { color: inherit; text-decoration: none; }
#contents .page { margin-left: auto; padding-left: 1em; min-width: 3ch; text-align: right;
  font-variant-numeric: tabular-nums; }
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

# The preface's heading repeats the book's title, which the cover has: on paper it is the Preface.
# Identifiers in tables may break only after their punctuation, never inside a name.
PAPER_JS = r"""() => {
  // A code cell shorter than half a page moves whole to the next page rather than leave a
  // stub; a longer one may break (kept whole, it would leave an empty page behind).
  for (const input of document.querySelectorAll("div.cell_input"))
    if (input.offsetHeight < 480) input.classList.add("short");
  const preface = document.querySelector("article section > h1");
  preface.textContent = "Preface";
  preface.style.display = "block";
  for (const code of document.querySelectorAll("table code.literal")) {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const text of texts) {
      const parts = text.data.split(/(?<=[.(,=])/);
      if (parts.length < 2) continue;
      const pieces = parts.flatMap((part) => [document.createTextNode(part),
        document.createElement("wbr")]);
      text.replaceWith(...pieces.slice(0, -1));
    }
  }
}"""

# The printed contents: the preface, then each part's chapters, with the page each starts on
# (a placeholder until the first print tells; the key of the preface is "").
CONTENTS_JS = r"""() => {
  const entry = (title, target, document) => `<div class="entry"><a href="${target}">${title}</a>
    <span class="page" data-document="${document}">000</span></div>`;
  const rows = [entry("Preface", "#", "")];
  const toc = document.querySelector("#jb-print-toc nav");
  for (const element of toc.querySelectorAll("p.caption, a[href^='#document-']")) {
    if (element.matches("p.caption")) rows.push(`<div class="part">${element.textContent}</div>`);
    else rows.push(entry(element.innerHTML, element.hash, element.hash.slice("#document-".length)));
  }
  toc.outerHTML = `<div id="contents">${rows.join("")}</div>`;
}"""

PAGES_JS = r"""(pages) => {
  for (const page of document.querySelectorAll("#contents .page"))
    page.textContent = pages[page.dataset.document];
}"""

# Everything after the cover and the contents out of the layout, for the second print.
ONLY_CONTENTS_JS = r"""() => {
  for (let kept = document.querySelector("#jb-print-docs-body"); kept !== document.body;
       kept = kept.parentElement)
    for (let next = kept.nextElementSibling; next; next = next.nextElementSibling)
      next.style.display = "none";
}"""

COVER_JS = """(lines) => {
  const cover = document.createElement("div");
  cover.id = "cover";
  cover.innerHTML = lines.map(([kind, text]) => `<p class="${kind}">${text}</p>`).join("");
  const first = document.querySelector("#jb-print-docs-body") || document.querySelector("article");
  first.parentElement.insertBefore(cover, first);
}"""


# Every heading Chromium makes a bookmark of, in order: its text, level, the document (chapter)
# it belongs to ("" for the book's first page) and whether it is part of the printed contents.
HEADINGS_JS = r"""() => {
  const documents = [...document.querySelectorAll('span[id^="document-"]')];
  const headings = [];
  for (const element of document.querySelectorAll("h1, h2, h3, h4, h5, h6, [role=heading]")) {
    if (!element.getClientRects().length || element.closest("#cover")) continue;
    const copy = element.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((link) => link.remove());
    const before = documents.filter(
      (span) => span.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING);
    headings.push({
      text: copy.textContent.replace(/\s+/g, " ").trim(),
      level: Number(element.getAttribute("aria-level") || element.tagName.slice(1)),
      document: before.length ? before[before.length - 1].id.slice("document-".length) : "",
      contents: Boolean(element.closest("#jb-print-toc")),
    });
  }
  return headings;
}"""


# What would be cut off at the paper's edge: anything reaching past the page, and code or
# formulas wider than their box (scrolled on screen, clipped on paper).
CLIPPED_JS = r"""() => {
  const width = document.documentElement.clientWidth;
  const clipped = [];
  for (const element of document.querySelectorAll("pre, div.math, img, svg, table")) {
    if (!element.getClientRects().length || element.closest("#cover")) continue;
    const box = element.getBoundingClientRect();
    const scrolls = ["PRE", "DIV"].includes(element.tagName) &&
      element.scrollWidth > element.clientWidth + 1;
    if (box.right > width + 1 || box.left < -1 || scrolls) {
      const text = element.textContent || element.getAttribute("alt") || "";
      clipped.push(`${element.tagName.toLowerCase()} "${text.trim().slice(0, 50)}"`);
    }
  }
  return clipped;
}"""

# A4 less the margins below, in CSS pixels: the page is laid out as wide as it will print.
PRINT_WIDTH = round((210 - 2 * 16) / 25.4 * 96)


@dataclass
class Heading:
    text: str
    level: int
    document: str
    contents: bool
    page: int = 0


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
        ("title", CONFIG["title"]),
        ("", "An executable book, and the small library it builds: <b>deepscratch</b>"),
        ("", f"by {CONFIG['author']}"),
        (
            "",
            "It grew from Daniel Sabinasz&rsquo;s <i>Deep Learning From Scratch &ndash; Theory "
            "and Implementation</i> (deepideas.net, 2017) and its library TensorSlow.",
        ),
        ("", CONFIG["html"]["baseurl"]),
        ("", f"Printed from the site as of {date}"),
    ]


def print_pdf(path: Path = PDF) -> list[str]:
    """Print the single-page build to ``path``; returns what went wrong on the way: requests
    to any other host or for files the build lacks, anything cut off at the margin, bookmarks
    that are not the headings (there should be none)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    reprint = path.with_suffix(".contents.pdf")
    with serve(SINGLE) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": PRINT_WIDTH, "height": 1000})
        page.set_default_navigation_timeout(SETTLE_SECONDS * 1000)

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
        if page.evaluate(READY_JS) != "ready":
            return [f"the book's page did not settle within {SETTLE_SECONDS} s"]
        page.add_style_tag(content=PRINT_CSS)
        page.evaluate(UNFOLD_JS)
        page.evaluate(PAPER_JS)
        page.evaluate(CONTENTS_JS)
        page.evaluate(COVER_JS, cover())
        page.emulate_media(media="print")
        problems += [f"cut off at the margin: {what}" for what in page.evaluate(CLIPPED_JS)]
        headings = [Heading(**heading) for heading in page.evaluate(HEADINGS_JS)]

        path.parent.mkdir(parents=True, exist_ok=True)
        _print(page, path)
        problems += locate(path, headings)
        if problems:
            return problems
        # Only the contents change once their page numbers are known: the pages from theirs to
        # the preface's, which starts a page of its own. Printed again without the rest of
        # the book, they say how many pages it has in their footers.
        pages = range(
            next(h.page for h in headings if h.contents),
            next(h.page for h in headings if not h.contents),
        )
        page.evaluate(PAGES_JS, _chapter_starts(headings))
        page.evaluate(ONLY_CONTENTS_JS)
        _print(page, reprint, total_pages=len(_reader(path).pages))
        browser.close()
    problems += replace_pages(path, reprint, pages)
    reprint.unlink()
    return problems + write_outline(path, headings)


def _chapter_starts(headings: list[Heading]) -> dict[str, int]:
    """The page each chapter (and, under "", the preface) starts on, counted from 1."""
    starts: dict[str, int] = {}
    for heading in headings:
        if not heading.contents:
            starts.setdefault(heading.document, heading.page + 1)
    return starts


def _print(page, path: Path, total_pages: int | None = None) -> None:
    """Print the page to ``path``, each page numbered in its footer, out of the number of pages
    the print has, or out of ``total_pages`` if given."""
    total = '<span class="totalPages"></span>' if total_pages is None else str(total_pages)
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
            f'<span class="pageNumber"></span> / {total}</div>'
        ),
    )


def replace_pages(path: Path, reprint: Path, pages: range) -> list[str]:
    """Put ``pages`` of ``reprint``, a print of the same document's beginning, in place of the
    same pages of the PDF at ``path``: their text and drawing, that is, while each page keeps
    its links and its place in the outline. ``reprint`` must end with them, and they must be
    the same but for their digits, and are: each page number has a box of its own width, so
    the numbers move nothing."""
    import pikepdf

    first, second = _reader(path), _reader(reprint)
    if len(second.pages) != pages.stop:
        printed = f"{len(second.pages)} pages, not {pages.stop}"
        return [f"the cover and contents were printed again on {printed}"]
    for number in pages:
        before, after = first.pages[number].extract_text(), second.pages[number].extract_text()
        if re.sub(r"\d", "", before) != re.sub(r"\d", "", after):
            return [f"page {number + 1} changed more than its page numbers when printed again"]
    with pikepdf.open(path, allow_overwriting_input=True) as book, pikepdf.open(reprint) as new:
        for number in pages:
            for key in ("/Contents", "/Resources"):
                contents = new.make_indirect(new.pages[number].obj[key])
                book.pages[number].obj[key] = book.copy_foreign(contents)
        book.save(path)
    return []


def squashed(text: str) -> str:
    """The text without white space, its ligatures (fi, ff, ...) spelled out as letters: how
    a heading compares with the text Chromium puts in a bookmark or a PDF reader extracts."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _reader(path: Path):
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it remarks on Chromium's object count
    return PdfReader(path)


def locate(path: Path, headings: list[Heading]) -> list[str]:
    """Set each heading's page (counted from 0) from Chromium's bookmarks in the PDF at
    ``path``, one per heading in the same order; returns what went wrong."""
    reader = _reader(path)
    marks: list[tuple[str, int]] = []

    def flatten(outline) -> None:
        for item in outline:
            if isinstance(item, list):
                flatten(item)
            else:
                marks.append((item.title, reader.get_destination_page_number(item)))

    flatten(reader.outline)
    if len(marks) != len(headings):
        return [f"Chromium made {len(marks)} bookmarks of the {len(headings)} headings"]
    for heading, (title, page) in zip(headings, marks, strict=True):
        similar = difflib.SequenceMatcher(None, squashed(heading.text), squashed(title))
        if similar.ratio() < 0.6:
            return [f"the bookmark {title!r} is not the heading {heading.text!r}"]
        heading.page = page
    return []


def outline_entries(headings: list[Heading]) -> list[tuple[int, str, int]]:
    """The bookmarks, in order, each as (depth, title, page): the printed contents, the preface
    and its sections, then each part of _toc.yml with its chapters' headings nested by level."""
    body = [heading for heading in headings if not heading.contents]
    entries = [(0, "Contents", next(h.page for h in headings if h.contents))]
    title, *sections = [heading for heading in body if heading.document == ""]
    entries.append((0, title.text, title.page))
    entries += [(1, heading.text, heading.page) for heading in sections]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        documents = [chapter["file"] for chapter in part["chapters"]]
        chapters = [[h for h in body if h.document == document] for document in documents]
        entries.append((0, part["caption"], chapters[0][0].page))
        for chapter_headings in chapters:
            top = min(heading.level for heading in chapter_headings)
            entries += [(1 + h.level - top, h.text, h.page) for h in chapter_headings]
    return entries


def write_outline(path: Path, headings: list[Heading]) -> list[str]:
    """Replace the outline of the PDF at ``path`` with one made from the located ``headings``.
    pikepdf (qpdf) rewrites the 500-page book in a second, into object streams a third smaller
    than Chromium's file."""
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        with pdf.open_outline() as outline:
            outline.root.clear()
            above: list[tuple[int, pikepdf.OutlineItem]] = []  # the open bookmarks, by depth
            for depth, title, page in outline_entries(headings):
                while above and above[-1][0] >= depth:
                    above.pop()
                item = pikepdf.OutlineItem(title, page)
                (above[-1][1].children if above else outline.root).append(item)
                above.append((depth, item))
        pdf.Root.PageMode = pikepdf.Name.UseOutlines
        pdf.docinfo[pikepdf.Name.Title] = CONFIG["title"]
        pdf.docinfo[pikepdf.Name.Author] = CONFIG["author"]
        pdf.save(path, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return []


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
