"""What the tests share: the repository's root, a fresh default graph, and the built site.

The tests are in three folders, each runnable alone: ``library/`` (deepscratch itself),
``book/`` (the chapters, their notebooks and the build) and ``site/`` (the built pages in a
browser, their links, the PDF, reproducibility)."""

import fcntl
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pytest

import deepscratch as ds

# Figures are drawn off-screen in tests, as in the book's build.
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
BUILD_COMMAND = [sys.executable, "-m", "tools.build_book"]
RUN = uuid.uuid4().hex


@pytest.fixture
def fresh_graph() -> Iterator[ds.Graph]:
    """A new default graph for the test, so that no test sees another's nodes."""
    with ds.Graph().as_default() as graph:
        yield graph


@pytest.fixture(scope="session")
def built_book(pytestconfig: pytest.Config) -> subprocess.CompletedProcess:
    """Build the site into _build/ exactly as `make book` does (unchanged chapters come from
    the execution cache); the whole log is in _build/build.log. The book builds once per test
    run: a second worker that needs it waits for the first's build and reads its result."""
    # Workers of one run share xdist's id of the run; a run without xdist makes its own.
    run = getattr(pytestconfig, "workerinput", {}).get("testrunuid", RUN)
    result = ROOT / "_build" / f".test-build-{run}.json"
    result.parent.mkdir(exist_ok=True)
    with (ROOT / "_build" / ".test-build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            for earlier in result.parent.glob(".test-build-*.json"):
                earlier.unlink()
            build = subprocess.run(
                BUILD_COMMAND,
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )
            result.write_text(json.dumps({"returncode": build.returncode, "stdout": build.stdout}))
    built = json.loads(result.read_text())
    return subprocess.CompletedProcess(BUILD_COMMAND, built["returncode"], built["stdout"], "")


@pytest.fixture(scope="session")
def built_site(built_book: subprocess.CompletedProcess) -> Path:
    """_build/html, once the book has built; if it did not, the test fails with the end of the
    build's output."""
    assert built_book.returncode == 0, f"the book did not build:\n{built_book.stdout[-5000:]}"
    return HTML


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order the workers take the tests in (``make test`` keeps it: --no-loadscope-reorder).
    First the second, clean build of the reproducibility test, which needs nothing else; then
    the book's build and its own tests. While they build, the third worker runs what needs no
    build. Then the two longest runs that need it, the site in the browser and the printed
    book, then the rest that need it, and last the chapters' cells, which by then can check
    the build's run of them instead of running again."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        if path == "tests/site/test_reproducible.py":
            return 0
        if path == "tests/book/test_book.py":
            return 1
        if path.startswith("book/"):
            return 6
        if path == "tests/site/test_pdf.py":
            return 4  # its test without the build too: it goes after the print, in its group
        if "built_book" not in getattr(item, "fixturenames", ()):
            return 2
        return 3 if path == "tests/site/test_site.py" else 5

    items.sort(key=rank)
