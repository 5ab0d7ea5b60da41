"""The chapter collector (tests/book/chapter_cells.py) fails where it should: a raising cell, a
wrong output."""

import re

import pytest

from conftest import ROOT
from tools.build_book import code_cell_lines

CHAPTER = ROOT / "book" / "01_computational_graphs.md"


def fence_line(text: str, cell_content: str) -> int:
    """The line of the code-cell fence of the cell containing ``cell_content``."""
    content_line = text[: text.index(cell_content)].count("\n") + 1
    return max(line for line in code_cell_lines(text) if line < content_line)


@pytest.fixture
def run_chapter(pytester):
    # The project's own way to find its modules, pytest's pythonpath, in the copy's folder too.
    folders = f"{ROOT} {ROOT / 'tests' / 'book'}"
    pytester.makeini(f"[pytest]\npythonpath = {folders}\n")
    pytester.makeconftest('pytest_plugins = ["chapter_cells"]')

    def run(text: str):
        pytester.makefile(".md", ch=text)
        pytester.makefile(".yml", _toc="format: jb-book\nroot: ch\n")
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", "ch.md")

    return run


def test_a_cell_that_raises_is_reported_at_its_line_and_later_cells_are_not_run(run_chapter):
    text = CHAPTER.read_text().replace(
        "session = ds.Session()\n",
        "session = ds.Session()\nraise RuntimeError('broken on purpose')\n",
    )
    result = run_chapter(text)
    line = fence_line(text, "broken on purpose")
    output = result.stdout.str()
    assert f"ch.md:{line}: the cell raised an error" in output
    assert "RuntimeError" in output and "broken on purpose" in output
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["skipped"] >= 1
    assert re.search(rf"SKIPPED .*not run: the cell at line {line} failed", output)


def test_a_changed_declared_output_fails_with_a_diff(run_chapter):
    text = CHAPTER.read_text().replace("# [ 2. -1.]", "# [ 2. -2.]")
    result = run_chapter(text)
    line = fence_line(text, "# [ 2. -2.]")
    output = result.stdout.str()
    assert f"ch.md:{line}: the cell's output differs from what it declares" in output
    assert "-[ 2. -2.]" in output and "+[ 2. -1.]" in output
    assert result.parseoutcomes()["failed"] == 1


def test_the_unchanged_chapter_passes(run_chapter):
    result = run_chapter(CHAPTER.read_text())
    assert result.parseoutcomes().get("failed", 0) == 0
    assert result.parseoutcomes()["passed"] == len(code_cell_lines(CHAPTER.read_text()))


def test_a_figure_that_fails_to_display_fails_its_cell(run_chapter):
    # Jupyter reports such an error as an output, without failing the cell.
    text = CHAPTER.read_text().replace(
        "session = ds.Session()\n",
        "session = ds.Session()\nimport matplotlib.pyplot as plt\n"
        "fig, axes = plt.subplots(1, 2, sharex=True, sharey=True)\n"
        "axes[0].set_aspect('equal', adjustable='datalim')\n",
    )
    result = run_chapter(text)
    line = fence_line(text, "adjustable='datalim'")
    output = result.stdout.str()
    assert f"ch.md:{line}: the cell raised an error" in output
    assert "an error while displaying its result" in output
