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


TWO_CELLS = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# Two cells

```{code-cell} ipython3
x = 1 + 1
print(x)
# expect:
# 2
```

```{code-cell} ipython3
print(3 * x)
# expect:
# 6
```
"""


@pytest.mark.parametrize("library_changed_since", [False, True])
def test_the_builds_run_is_checked_unless_the_library_changed_since(
    pytester, tmp_path, library_changed_since
):
    """A build's cache that says the second cell printed 7 fails that cell, where a kernel
    would print 6; once the library is newer than the build's run, the kernel runs instead."""
    import os
    import time

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    from tools.notebooks import _myst_notebook

    chapter = pytester.makefile(".md", ch=TWO_CELLS)
    pytester.makefile(".yml", _toc="format: jb-book\nroot: ch\n")
    notebook = _myst_notebook(chapter)
    for cell, printed in zip(notebook.cells[1:], ["2\n", "7\n"], strict=True):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    build = tmp_path / "_build"
    get_cache(str(build / ".jupyter_cache")).cache_notebook_bundle(
        CacheBundleIn(notebook, str(chapter)), check_validity=False
    )
    library = tmp_path / "library"
    library.mkdir()
    (library / "module.py").write_text("")
    stamp = time.time() + (3600 if library_changed_since else -3600)
    os.utime(library / "module.py", (stamp, stamp))

    folders = f"{ROOT} {ROOT / 'tests' / 'book'}"
    pytester.makeini(f"[pytest]\npythonpath = {folders}\n")
    pytester.makeconftest(
        'pytest_plugins = ["chapter_cells"]\n'
        "def pytest_configure():\n"
        "    import functools, chapter_cells, tools.notebooks\n"
        "    from pathlib import Path\n"
        "    chapter_cells.fresh_build_outputs = functools.partial(\n"
        f"        tools.notebooks.fresh_build_outputs, build=Path({str(build)!r}),\n"
        f"        library=Path({str(library)!r}))\n"
    )
    outcomes = pytester.runpytest_subprocess("-p", "no:cacheprovider", "ch.md").parseoutcomes()
    if library_changed_since:
        assert outcomes == {"passed": 2}
    else:
        assert outcomes == {"passed": 1, "failed": 1}
