"""The whole book as a PDF: ``make pdf`` (tools/build_pdf.py) prints the single-page build with
Chromium. The printed book has at least 100 pages and no blank one, a bookmark for every
chapter and for each of its sections, every chapter's title in its text, no formula left as
TeX (a plot's TeX label in a code listing is code, not a formula), and not one figure replaced
by the repr of the object that should have drawn it. The printing itself reports any request to
another host and anything cut off at the margin. The last test plants each fault in a small
PDF.

The three tests are one group, the print first: xdist hands a worker its next tests as soon as it
has two or fewer left, and a print with nothing behind it in its group would take some other
group with it, to wait the whole print for a worker that may already be free."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import lxml.html
import pytest
from browser import require_browser

from conftest import HTML, ROOT
from tools.build_book import toc_pages
from tools.build_pdf import PDF, SINGLE, squashed

REPRS = re.compile(r"<(?:GraphDrawing|Figure size)[^>]*>")
FOOTER = re.compile(r"\d+\s*/\s*\d+\s*$")  # the page number, "12 / 338"
RAW_TEX = re.compile(r"\$\$|\\(?:frac|sum|mathbf|begin|partial)\b")
HEADERLINK = ".//*[contains(concat(' ', normalize-space(@class), ' '), ' headerlink ')]"

pytestmark = pytest.mark.xdist_group("pdf")


def _heading(element) -> str:
    for link in element.xpath(HEADERLINK):
        link.drop_tree()
    return " ".join(" ".join(element.itertext()).split())


def expected_outline(folder: Path = HTML) -> dict[str, list[str]]:
    """Each page's title (the book's first page is the Preface) and its sections' titles."""
    outline = {}
    for number, page in enumerate(toc_pages()):
        article = lxml.html.parse(folder / f"{page}.html").find(".//article")
        title = "Preface" if number == 0 else _heading(article.find(".//h1"))
        outline[title] = [_heading(h2) for h2 in article.xpath(".//section/h2")]
    return outline


def tex_in_code(page: Path = SINGLE / "index.html") -> Counter[str]:
    """The TeX the printed book's code listings hold, such as a matplotlib label's."""
    listings = lxml.html.parse(page).iter("pre")
    return Counter(tex for pre in listings for tex in RAW_TEX.findall(pre.text_content()))


def page_texts(path: Path) -> list[str]:
    """The text of each page of the PDF at ``path``, as PDFium reads it (the printed book's
    500 pages in a second or so, where pypdf takes half a minute)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def pdf_problems(
    path: Path,
    expected: dict[str, list[str]],
    min_pages: int = 100,
    code_tex: Counter[str] | None = None,
) -> list[str]:
    """What the PDF at ``path`` lacks, as readable problems; empty when it has everything.
    ``code_tex`` counts the TeX printed as code, which is not a formula left untypeset."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    problems = []
    if len(reader.pages) < min_pages:
        problems.append(f"{len(reader.pages)} pages, fewer than {min_pages}")
    children: dict[str, list[str]] = {}

    starts: dict[str, int] = {}  # the page each bookmark leads to, counted from 1

    def walk(outline, parent: str | None) -> None:
        last = None  # a list in pypdf's outline holds the children of the item before it
        for item in outline:
            if isinstance(item, list):
                walk(item, last)
            else:
                last = item.title
                children.setdefault(last, [])
                starts.setdefault(last, reader.get_destination_page_number(item) + 1)
                if parent is not None:
                    children[parent].append(last)

    walk(reader.outline, None)
    texts = page_texts(path)
    for number, (page, page_text) in enumerate(zip(reader.pages, texts, strict=True), 1):
        printed = FOOTER.sub("", page_text).strip()
        if not printed and "/XObject" not in page.get("/Resources", {}):
            problems.append(f"page {number} is blank")
    text = "\n".join(texts)
    flat_text = squashed(text)
    listed: dict[str, int] = {}  # the contents' lines: a title, then the page it starts on
    for line in text.splitlines():
        if entry := re.fullmatch(r"(.+?) (\d+)", line.strip()):
            listed.setdefault(entry[1], int(entry[2]))
    for title, sections in expected.items():
        if title not in children:
            problems.append(f"no bookmark for {title!r}")
        problems += [
            f"no bookmark for the section {section!r} of {title!r}"
            for section in sections
            if section not in children.get(title, [])
        ]
        if title != "Preface" and squashed(title) not in flat_text:
            problems.append(f"the title {title!r} is not in the text")
        if title not in listed:
            problems.append(f"the contents do not list {title!r}")
        elif title in starts and listed[title] != starts[title]:
            problems.append(
                f"the contents give page {listed[title]} for {title!r}, "
                f"which starts on page {starts[title]}"
            )
    problems += [f"a figure printed as its repr: {repr_}" for repr_ in REPRS.findall(text)]
    as_code = Counter(code_tex)
    for tex in RAW_TEX.findall(text):
        if as_code[tex] > 0:
            as_code[tex] -= 1
        else:
            problems.append(f"TeX not typeset: {tex}")
    return problems


@pytest.fixture(scope="module")
def printing(built_site) -> subprocess.CompletedProcess:
    require_browser()
    return subprocess.run(
        [sys.executable, "-m", "tools.build_pdf"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_make_pdf_prints_the_book(printing):
    assert printing.returncode == 0, (printing.stdout + printing.stderr)[-3000:]


def test_the_printed_book(printing):
    if printing.returncode != 0:
        pytest.fail("the book did not print (see test_make_pdf_prints_the_book)")
    expected = expected_outline()
    assert len(expected) == len(toc_pages())
    assert pdf_problems(PDF, expected, code_tex=tex_in_code()) == []


def test_the_checks_find_each_planted_fault(tmp_path):
    """A one-page PDF with a figure's repr and raw TeX in it, one bookmark and one chapter
    missing, and a contents line with the wrong page; one of the two ``$$`` is code."""
    import matplotlib.pyplot as plt
    from pypdf import PdfWriter

    figure = plt.figure()
    figure.text(
        0.1,
        0.5,
        "1. Alpha 2\n1. Alpha $$\\frac{1}{2}$$\n<Figure size 640x480 with 1 Axes>",
        parse_math=False,
    )
    with plt.rc_context({"pdf.fonttype": 42}):
        figure.savefig(tmp_path / "plain.pdf")
    plt.close(figure)
    writer = PdfWriter(clone_from=tmp_path / "plain.pdf")
    writer.add_outline_item(title="1. Alpha", page_number=0)
    writer.add_blank_page()
    writer.write(tmp_path / "planted.pdf")

    problems = pdf_problems(
        tmp_path / "planted.pdf",
        {"1. Alpha": ["1.1. One"], "2. Beta": []},
        code_tex=Counter({"$$": 1, "\\partial": 1}),
    )
    assert problems == [
        "2 pages, fewer than 100",
        "page 2 is blank",
        "no bookmark for the section '1.1. One' of '1. Alpha'",
        "the contents give page 2 for '1. Alpha', which starts on page 1",
        "no bookmark for '2. Beta'",
        "the title '2. Beta' is not in the text",
        "the contents do not list '2. Beta'",
        "a figure printed as its repr: <Figure size 640x480 with 1 Axes>",
        "TeX not typeset: \\frac",
        "TeX not typeset: $$",
    ]
