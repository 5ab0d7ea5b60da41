"""The book builds: every chapter executes, with zero warnings, into a page of the site."""

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from build_book import toc_pages

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("site")


def test_the_book_builds_without_warnings(built_book):
    output = built_book.stdout + built_book.stderr
    assert built_book.returncode == 0, output[-5000:]
    assert "build succeeded" in output
    assert not re.findall(r"(WARNING|ERROR): .*", output), output[-5000:]


@pytest.mark.parametrize("page", toc_pages())
def test_every_page_of_the_toc_is_in_the_site(built_book, page):
    html = ROOT / "_build" / "html" / f"{page}.html"
    soup = BeautifulSoup(html.read_text(), "html.parser")
    assert soup.find("h1")
    # A traceback is shown only where a cell demonstrates an error on purpose.
    for cell in soup.select("div.cell"):
        if cell.select(".output.traceback"):
            assert "tag_raises-exception" in cell["class"], cell.get_text()[:2000]


def test_no_chapter_retypes_library_code():
    chapters = [ROOT / f"{page}.md" for page in toc_pages()]
    cell = re.compile(r"```\{code-cell\}.*?```", re.DOTALL)
    retyped = re.compile(r"^\s*(class \w+\((ds\.|deepscratch\.)?Operation\)|def compute\()", re.M)
    for chapter in chapters:
        for source in cell.findall(chapter.read_text()):
            assert not retyped.search(source), f"{chapter.name} re-types library code"
