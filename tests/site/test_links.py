"""Every link of the built site resolves, and the site embeds nothing from another host.

Internal links (and their #anchors) of every page in _build/html must lead to a file and an
element that exist. External links are not fetched (the tests run without a network): they are
written to _build/external-links.txt, with the pages that link them, for review. Scripts,
stylesheets, images and frames must all come from the site itself, so that it reads offline.
The last test runs the same checker on a small tree of deliberately broken pages.
"""

from __future__ import annotations

import pytest
from link_checker import check_links, write_external_report

pytestmark = pytest.mark.xdist_group("links")


@pytest.fixture(scope="module")
def links(built_site):
    report = check_links(built_site)
    write_external_report(report, built_site.parent / "external-links.txt")
    return report


def test_every_internal_link_and_anchor_resolves(links):
    assert links.checked > 0
    assert not links.broken, "broken links:\n" + "\n".join(links.broken)


def test_no_page_embeds_anything_from_another_host(links):
    assert not links.embedded_external, "embedded from elsewhere:\n" + "\n".join(
        links.embedded_external
    )


def test_the_link_checker_reports_broken_links(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "style.css").write_text("")
    (tmp_path / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="_static/style.css">'
        '<link rel="stylesheet" href="https://cdn.example.com/theme.css"></head><body>'
        '<h1 id="top">Top</h1>'
        '<a href="book/one.html">ok</a> <a href="book/one.html#part">ok anchor</a>'
        '<a href="#top">ok here</a> <a href="#">ok top</a> <a href="book/">ok folder</a>'
        '<a href="book/one.html#nowhere">bad anchor</a> <a href="book/gone.html">bad file</a>'
        '<a href="#missing">bad here</a> <a href="../outside.html">outside</a>'
        '<img src="_static/none.png" alt="none">'
        '<a href="https://example.org/page">external</a> <a href="mailto:me@example.org">mail</a>'
        '<script src="https://cdn.example.com/lib.js"></script></body></html>'
    )
    (tmp_path / "book" / "one.html").write_text(
        '<html><body><h2 id="part">Part</h2><a href="../index.html#top">back</a></body></html>'
    )
    (tmp_path / "book" / "index.html").write_text("<html><body></body></html>")
    report = check_links(tmp_path)
    assert sorted(report.broken) == [
        "index.html: #missing (no anchor #missing)",
        "index.html: ../outside.html (outside the site)",
        "index.html: _static/none.png (no such file)",
        "index.html: book/gone.html (no such file)",
        "index.html: book/one.html#nowhere (no anchor #nowhere)",
    ]
    assert sorted(report.external) == [
        "https://cdn.example.com/lib.js",
        "https://cdn.example.com/theme.css",
        "https://example.org/page",
        "mailto:me@example.org",
    ]
    assert sorted(report.embedded_external) == [
        "index.html: https://cdn.example.com/lib.js",
        "index.html: https://cdn.example.com/theme.css",
    ]
