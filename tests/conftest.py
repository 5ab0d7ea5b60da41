"""What the tests share: the repository's root, a fresh default graph, and the built site.

The tests are in three folders, each runnable alone: ``library/`` (deepscratch itself),
``book/`` (the chapters, their notebooks and the build) and ``site/`` (the built pages in a
browser, their links, the PDF, reproducibility)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

import deepscratch as ds

# Figures are drawn off-screen in tests, as in the book's build.
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


@pytest.fixture
def fresh_graph() -> Iterator[ds.Graph]:
    """A new default graph for the test, so that no test sees another's nodes."""
    with ds.Graph().as_default() as graph:
        yield graph


@pytest.fixture(scope="session")
def built_book() -> subprocess.CompletedProcess:
    """Build the site into _build/ exactly as `make book` does (unchanged chapters come from
    the execution cache); the whole log is in _build/build.log. Tests that use it run in one
    xdist group, so it builds once."""
    return subprocess.run(
        [sys.executable, "-m", "tools.build_book"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="session")
def built_site(built_book: subprocess.CompletedProcess) -> Path:
    """_build/html, once the book has built; if it did not, the test fails with the end of the
    build's output."""
    assert built_book.returncode == 0, f"the book did not build:\n{built_book.stdout[-5000:]}"
    return HTML
