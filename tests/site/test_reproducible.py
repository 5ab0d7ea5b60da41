"""Two clean builds of the same commit make the same site, byte for byte.

A second build from scratch (its own execution cache, so every chapter runs again) goes into a
temporary folder and is compared with _build/html: every HTML page, every figure the pages show
(_images/), the downloadable notebooks (_sources/**/*.ipynb, outputs included) and the object
inventory.

Not compared: searchindex.js. On a developer's machine _build/html is usually a rebuild over an
earlier build, and after a rebuild that does not re-read the API page, Sphinx leaves its index
entries out of the search index: the file depends on that history rather than on the commit.

Only real build stamps are normalised before comparing, and each is listed in STAMPS with why it
is one. Nothing else may differ: figures come from seeded data and matplotlib's PNG metadata
holds no date, so a difference means the book's output depends on when or where it was built.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import pytest
from link_checker import html_pages

from conftest import HTML, ROOT
from tools.build_book import toc_pages

pytestmark = pytest.mark.xdist_group("clean-build")

STAMPS = [
    # Sphinx appends ?v=<checksum> to an asset's URL only when the asset is already in the output
    # folder as the page is written. sphinx-mathjax-offline copies MathJax there at the very end
    # of a build, so on a rebuild over an existing _build/ the pages load
    # _static/mathjax/tex-chtml.js?v=..., and after a clean build plain tex-chtml.js: the query
    # records the state of the output folder, not the site.
    (re.compile(rb"(_static/[^\"'?#\s]+)\?v=[0-9a-f]{8}"), rb"\1"),
]

# Chapter 15 measures how long a training step takes on the machine that builds the book. Its
# times (in us or microseconds) and their ratios (a number of times, or "x") are measurements
# of that machine at that moment, like a date: on its page and in its notebook, the numbers in
# front of those units are not compared. Nothing else on the page is exempt, and it has no
# figure made from a measurement.
MEASURED_PAGES = ("book/15_graph_optimiser.html", "_sources/book/15_graph_optimiser.ipynb")
# The spaces before a number go too: a table pads a shorter measurement with more of them.
MEASURED = re.compile(rb" *\d+(?:\.\d+)?(?=(?:</span>)?\s*(?:us|microseconds|times|x)\b)")

FIGURE = re.compile(r"""(?:src|href)=["']([^"'#?]*_images/[^"'#?]+)""")


def normalised(path: Path, name: str = "") -> bytes:
    data = path.read_bytes()
    if path.suffix == ".html":
        for stamp, replacement in STAMPS:
            data = stamp.sub(replacement, data)
    if name in MEASURED_PAGES:
        data = MEASURED.sub(b" (measured)", data)
    return data


def compared_files(site: Path) -> set[str]:
    """The files of a built site that must be reproducible, relative to it."""
    names = {page.relative_to(site).as_posix() for page in html_pages(site)}
    for page in list(names):
        for ref in FIGURE.findall((site / page).read_text(errors="replace")):
            names.add(posixpath.normpath(posixpath.join(posixpath.dirname(page), ref)))
    names |= {
        notebook.relative_to(site).as_posix() for notebook in site.glob("_sources/**/*.ipynb")
    }
    if (site / "objects.inv").exists():
        names.add("objects.inv")
    return names


def site_differences(site: Path, clean: Path) -> list[str]:
    """How ``site`` differs from the clean build ``clean`` (stale leftovers of an earlier build
    in ``site`` do not count: only what the clean build has is compared)."""
    differences = []
    for name in sorted(compared_files(clean)):
        if not (site / name).is_file():
            differences.append(f"{name}: missing from {site}")
        elif not (clean / name).is_file():
            differences.append(f"{name}: missing from the clean build")
        elif normalised(site / name, name) != normalised(clean / name, name):
            detail = ""
            if not name.endswith((".png", ".inv")):
                diff = difflib.unified_diff(
                    normalised(site / name, name).decode(errors="replace").splitlines(),
                    normalised(clean / name, name).decode(errors="replace").splitlines(),
                    lineterm="",
                    n=0,
                )
                detail = "\n    " + "\n    ".join(line[:160] for line in list(diff)[2:8])
            differences.append(f"{name}: differs{detail}")
    return differences


# Session-scoped, like built_site, and named before it by the test: pytest sets up the
# fixtures of a wider scope first, so a module-scoped clean build would start only once the
# first build had ended, and not run beside it.
@pytest.fixture(scope="session")
def clean_build(tmp_path_factory):
    """The second build, made while the first is made and tested: it needs nothing from it."""
    out = tmp_path_factory.mktemp("clean-build")
    run = subprocess.run(
        [sys.executable, "-m", "tools.build_book", "--path-output", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    html = out / "_build" / "html"
    assert (html / f"{toc_pages()[0]}.html").exists(), run.stdout[-3000:]
    return html


def test_a_second_clean_build_makes_the_same_site(clean_build, built_site):
    differences = site_differences(HTML, clean_build)
    assert not differences, (
        "A clean build differs from _build/html. (If _build/ is a rebuild over older builds, it"
        " may hold pages Sphinx did not rewrite, or outputs the execution cache kept from before"
        " a change to the library: `make clean` and run again.)\n" + "\n".join(differences)
    )


def test_the_comparison_sees_every_difference_but_the_stamps(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for site, figure, version in (
        (one, b"\x89PNG one", b"?v=1234abcd"),
        (two, b"\x89PNG two", b""),
    ):
        (site / "_images").mkdir(parents=True)
        (site / "_images" / "fig.png").write_bytes(figure)
        (site / "_images" / "stale.png").write_bytes(figure)  # not shown: a leftover
        (site / "page.html").write_bytes(
            b'<script src="_static/mathjax/tex-chtml.js' + version + b'"></script>'
            b'<img src="_images/fig.png" alt="A figure.">'
        )
    assert site_differences(one, two) == ["_images/fig.png: differs"]
    (two / "_images" / "fig.png").write_bytes(b"\x89PNG one")
    assert site_differences(one, two) == []
    measured = one / "book" / "15_graph_optimiser.html"
    measured.parent.mkdir()
    measured.write_bytes(b"<p>113 us, <span>1.39</span> times; 17 instructions</p>")
    (two / "book").mkdir()
    (two / "book" / "15_graph_optimiser.html").write_bytes(
        b"<p>235 us, <span>1.41</span> times; 17 instructions</p>"
    )
    assert site_differences(one, two) == []
    (two / "book" / "15_graph_optimiser.html").write_bytes(
        b"<p>235 us, <span>1.41</span> times; 18 instructions</p>"
    )
    assert [d.split("\n")[0] for d in site_differences(one, two)] == [
        "book/15_graph_optimiser.html: differs"
    ]
    measured.unlink()
    (two / "book" / "15_graph_optimiser.html").unlink()
    (two / "page.html").write_bytes(b"<p>Built on Tuesday</p>")
    (two / "extra.html").write_text("<p>new</p>")
    assert [d.split("\n")[0] for d in site_differences(one, two)] == [
        f"extra.html: missing from {one}",
        "page.html: differs",
    ]
