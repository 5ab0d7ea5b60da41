"""A pytest plugin that runs the book: every code cell of every chapter in _toc.yml is a test item.

A chapter's cells run in order in one real Jupyter kernel, started in the chapter's
folder -- exactly how the book's build (myst-nb through nbclient) runs them, so a
cell passes here if and only if it works in the built page: same display hooks, same
inline matplotlib backend, same working directory. A kernel costs about a second
to start, a price worth that guarantee.

When the book's build has just run the chapter, its run is the test: the execution cache then
holds the outputs of the chapter's current code, made by that same kind of kernel after the
library last changed, and the cells are checked against those outputs instead of being run a
second time. Any other change (to a cell, a declared output or the library) runs the kernel.

A cell may declare what it prints or returns in a comment block that ends it (the page
leaves the block out: see _ext/declared_outputs.py):

    print(session.run(z, feed_dict={x: [1, 2]}))
    # expect:
    # [ 2. -1.]

The fresh output must match it, doctest-style: whitespace is normalised, ``...`` stands
for any text, and each number matches to the digits it is written with (``0.9933``
accepts 0.99330715).
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from _ext.declared_outputs import declared_output
from tools.build_book import chapter_timeout, code_cell_lines, one_thread_per_kernel, toc_pages
from tools.notebooks import fresh_build_outputs

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def chapter_paths(root: Path) -> set[Path]:
    """The files the table of contents lists: what the site builds is what pytest runs."""
    if not (root / "_toc.yml").exists():
        return set()
    return {(root / f"{page}.md").resolve() for page in toc_pages(root)}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.resolve() in chapter_paths(parent.config.rootpath):
        return Chapter.from_parent(parent, path=file_path)
    return None


class Chapter(pytest.File):
    def collect(self):
        lines = code_cell_lines(self.path.read_text())
        if not lines:
            return  # a page of prose only
        notebook = jupytext.read(self.path)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        if len(lines) != len(code_cells):
            raise ValueError(
                f"{self.path}: found {len(lines)} code-cell fences for {len(code_cells)} cells"
            )
        self.run = ChapterRun(self.path, notebook)
        for line, cell in zip(lines, code_cells, strict=True):
            yield Cell.from_parent(
                self, name=f"L{line}", line=line, cell=cell, chapter_run=self.run
            )

    def teardown(self) -> None:
        if hasattr(self, "run"):
            self.run.stop()


class ChapterRun:
    """The kernel of one chapter, started at its first cell, and whether a cell has failed."""

    def __init__(self, path: Path, notebook: nbformat.NotebookNode) -> None:
        self.path = path
        self.client = NotebookClient(
            notebook,
            timeout=chapter_timeout(),
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        self.failed_at: int | None = None
        self.started = False
        self.code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        self.built: list | None = None  # each code cell's outputs, if the build ran them

    def execute(self, cell: nbformat.NotebookNode) -> None:
        index = next(i for i, code in enumerate(self.code_cells) if code is cell)
        if index == 0:  # looked up when the chapter starts: a build may have run meanwhile
            self.built = fresh_build_outputs(self.path)
            if self.built is not None and len(self.built) != len(self.code_cells):
                self.built = None
        if self.built is not None:
            cell.outputs = copy.deepcopy(self.built[index])
            return
        if not self.started:
            one_thread_per_kernel()
            self.client.km = self.client.create_kernel_manager()
            self.client.start_new_kernel(cwd=str(self.path.parent))
            self.client.start_new_kernel_client()
            self.started = True
        self.client.execute_cell(cell, self.client.nb.cells.index(cell))

    def stop(self) -> None:
        if self.started:
            self.client._cleanup_kernel()
            self.started = False


class Cell(pytest.Item):
    def __init__(
        self, *, line: int, cell: nbformat.NotebookNode, chapter_run: ChapterRun, **kwargs
    ):
        super().__init__(**kwargs)
        self.line, self.cell, self.chapter_run = line, cell, chapter_run
        self.add_marker(pytest.mark.xdist_group(f"chapter-{self.path.name}"))

    def runtest(self) -> None:
        run = self.chapter_run
        if run.failed_at is not None:
            pytest.skip(f"not run: the cell at line {run.failed_at} failed")
        try:
            run.execute(self.cell)
        except CellExecutionError as error:
            run.failed_at = self.line
            raise CellError(ANSI.sub("", str(error))) from None
        # An error while displaying a result (a figure that fails to render, say) does not
        # fail the cell in Jupyter: it only adds an error output. Here it fails the cell.
        errors = [o for o in self.cell.outputs if o.output_type == "error"]
        if errors and "raises-exception" not in self.cell.metadata.get("tags", []):
            run.failed_at = self.line
            traceback = ANSI.sub("", "\n".join(errors[0].traceback))
            raise CellError(
                f"{self.cell.source}\n\nan error while displaying its result:\n{traceback}"
            )
        declared = declared_output(self.cell.source)
        if declared is not None:
            actual = text_output(self.cell)
            if not output_matches(declared, actual):
                run.failed_at = self.line
                raise OutputMismatchError(declared, actual)

    def repr_failure(self, excinfo):
        where = f"{self.path}:{self.line}"
        if isinstance(excinfo.value, OutputMismatchError):
            declared, actual = excinfo.value.args
            diff = "\n".join(
                difflib.unified_diff(
                    declared.splitlines(), actual.splitlines(), "declared", "actual", lineterm=""
                )
            )
            message = f"{where}: the cell's output differs from what it declares"
            return f"{message}\n\n{self.cell.source}\n\n{diff}"
        if isinstance(excinfo.value, CellError):
            return f"{where}: the cell raised an error\n\n{excinfo.value.args[0]}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.line - 1, f"{self.path.name}::L{self.line}"


class CellError(Exception):
    """A cell raised; the message holds its source and the traceback from inside it."""


class OutputMismatchError(Exception):
    """A cell's output is not what its ``# expect:`` block declares."""


def text_output(cell: nbformat.NotebookNode) -> str:
    """What the cell printed, followed by the text form of the value it returned."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts)


def output_matches(declared: str, actual: str) -> bool:
    """Whether ``actual`` is what ``declared`` says, doctest-style (see the module docstring)."""
    pattern, expected_numbers = [], []
    for token in re.split(rf"(\.\.\.|{NUMBER}|\s+)", declared.strip()):
        if token == "...":
            pattern.append(r".*?")
        elif token and token.isspace():
            pattern.append(r"\s+")
        elif token and re.fullmatch(NUMBER, token):
            pattern.append(f"({NUMBER})")
            expected_numbers.append(token)
        elif token:
            pattern.append(re.escape(token))
    match = re.fullmatch("".join(pattern), actual.strip(), re.DOTALL)
    if not match:
        return False
    for written, found in zip(expected_numbers, match.groups(), strict=True):
        digits = len(written.split(".")[1]) if "." in written and "e" not in written.lower() else 0
        if abs(float(found) - float(written)) > 0.5 * 10.0**-digits * (1 + 1e-9):
            return False
    return True
