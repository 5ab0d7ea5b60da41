"""Build the site as `make book` does: the chapters run two at a time, then `jupyter-book build`.

Jupyter Book executes a book's notebooks one after another as it reads them, which leaves a core
idle for most of a cold build on a two-core computer. So first every chapter that the execution
cache lacks runs in jupyter-cache's execution workers (a process per core, each chapter in its own
kernel, started in the chapter's folder, exactly as the build would run it), and the build then
finds every chapter in the cache. A chapter that fails here is simply not cached: the build runs it
again and reports the error with its traceback, as it always has. After a successful build, the
clean notebooks of the chapters are written next to the pages (tools/notebooks.py).

``build(output_dir)`` is the one way the project builds the book: ``make book``, the tests and
the benchmark all run this file's command line, which calls it (in a process of its own, whose
output it can redirect). Everything the build prints goes to
``_build/build.log``; the command line shows each chapter it executed, with its time and its
code cells, every warning and error in full, and where the site is.

Usage: ``python -m tools.build_book [--path-output DIR]`` (``_build/`` goes under DIR, default
the repository).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import multiprocessing
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

ROOT = Path(__file__).resolve().parent.parent
# The reader myst-nb itself gives jupyter-cache, so that the build matches these executions.
MYST_NOTEBOOK = {"type": "plugin", "name": "myst_nb_md"}
# A code cell of a MyST page: its fence line, then its source up to the closing fence.
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PROBLEM = re.compile(r"\b(WARNING|ERROR)\b|Error\b|Traceback")
KERNEL_NOISE = "Kernel is running over TCP without encryption"  # every kernel says it


def one_thread_per_kernel() -> None:
    """Kernels started from now on use one BLAS thread. The chapters' matrices are small, so
    more threads gain nothing, and with two chapters running at once (or other work on the
    machine) numpy's extra threads contend for the cores and slow a chapter several-fold."""
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def toc_pages(root: Path = ROOT) -> list[str]:
    """The pages of ``root``'s _toc.yml in reading order, as paths without ``.md``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    chapters = [chapter["file"] for part in toc.get("parts", []) for chapter in part["chapters"]]
    return [toc["root"], *chapters]


def code_cells(text: str) -> list[tuple[int, str]]:
    """Each code cell of a MyST page: the line number (from 1) of its fence, and its source
    (with the cell's options, such as ``:tags:``, if it has any)."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in CODE_CELL.finditer(text)]


def code_cell_lines(text: str) -> list[int]:
    """The line numbers of the code-cell fences of a MyST page: one per code cell."""
    return [line for line, _ in code_cells(text)]


def chapters() -> list[Path]:
    """The pages of _toc.yml that have code cells: the chapters a build executes."""
    pages = [ROOT / f"{name}.md" for name in toc_pages()]
    return [page for page in pages if code_cell_lines(page.read_text())]


def chapter_timeout() -> int:
    """The seconds a code cell may take, from _config.yml: the build's limit and the tests'."""
    return yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"]


@dataclass
class Build:
    """What one build did: its exit status, the chapters it executed (with the seconds each
    took), and everything it printed (also in ``_build/build.log``)."""

    returncode: int
    log: str
    executed: dict[str, float] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """The lines of the log that report a warning or an error, with what follows them."""
        lines, shown, follow = self.log.splitlines(), [], False
        for line in lines:
            if KERNEL_NOISE in line:
                continue
            if PROBLEM.search(line):
                shown.append(line)
                follow = True
            elif follow and line.startswith((" ", "\t")):
                shown.append(line)
            else:
                follow = False
        return shown


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """This process's and its children's output (the kernels', too) goes to the end of ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with log.open("a") as file:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)


@contextlib.contextmanager
def build_lock(build_dir: Path, exclusive: bool) -> Iterator[bool]:
    """Held while a build writes ``build_dir`` (exclusive: a second build waits for the first)
    and while its execution cache is read (shared); yields whether a reader may read, which it
    may not while a build is under way: it does not wait for half a build, nor read one."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with (build_dir / ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True


def execute_chapters(cache_path: Path) -> dict[str, float]:
    """Run every chapter the cache at ``cache_path`` lacks, in parallel, and cache the results;
    the seconds each of them took, by its path from the repository's root."""
    cache = get_cache(cache_path)
    in_the_book = [str(chapter) for chapter in chapters()]
    for chapter in in_the_book:
        cache.add_nb_to_project(chapter, read_data=MYST_NOTEBOOK)
    # The chapters the cache lacks (their old tracebacks cleared), the last first. jupyter-cache
    # would hand them out three at a time in the book's order, and end the build with the three
    # slowest on one core; the later chapters train larger networks, and one at a time, longest
    # first, the two cores finish together.
    records = load_executor("local-parallel", cache).get_records()
    records.sort(key=lambda record: in_the_book.index(record.uri), reverse=True)
    pending = [Path(record.uri) for record in records]
    for path in pending:
        print(f"{path.relative_to(ROOT)}: Executing notebook", flush=True)
    work = [ProcessData(r.pk, r.uri, cache, chapter_timeout(), False) for r in records]
    with multiprocessing.Pool() as pool:
        for _ in pool.imap_unordered(ExecutionWorkerLocalMProc(), work):
            pass
    seconds = {
        Path(r.uri): r.data.get("execution_seconds", 0.0) for r in cache.list_cache_records()
    }
    return {str(path.relative_to(ROOT)): seconds.get(path, float("nan")) for path in pending}


def build(output_dir: Path = ROOT) -> Build:
    """Build the book into ``output_dir / "_build"``: the chapters the execution cache lacks run
    first, two at a time, then ``jupyter-book build -W -n --keep-going``, then the notebooks."""
    output_dir = Path(output_dir).resolve()
    log = output_dir / "_build" / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    one_thread_per_kernel()
    with build_lock(log.parent, exclusive=True), output_to(log):
        log.write_text("")
        executed = execute_chapters(output_dir / "_build" / ".jupyter_cache")
        command = [Path(sys.executable).with_name("jupyter-book"), "build", ROOT, "-W", "-n"]
        command += ["--keep-going", "--path-output", output_dir]
        jupyter_book = subprocess.run([str(arg) for arg in command], cwd=ROOT, check=False)
        if jupyter_book.returncode == 0:
            from tools.notebooks import write_notebooks  # it reads the pages just built

            write_notebooks(output_dir / "_build")
    return Build(jupyter_book.returncode, log.read_text(), executed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT, help="_build/ goes here")
    output = parser.parse_args().path_output.resolve()
    result = build(output)
    for chapter, seconds in result.executed.items():
        cells = len(code_cell_lines((ROOT / chapter).read_text()))
        print(f"{chapter}: Executing notebook ... {seconds:.1f} s, {cells} code cells")
    if result.problems():
        print("\n".join(result.problems()))
    log = output / "_build" / "build.log"
    if result.returncode == 0:
        print(f"The site is in {output / '_build' / 'html'} (the build's whole log: {log}).")
    else:
        print("\n".join(result.log.splitlines()[-30:]))
        print(f"The build failed; its whole log is in {log}.")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
