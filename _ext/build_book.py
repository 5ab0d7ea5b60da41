"""Build the site as `make book` does: the chapters run two at a time, then `jupyter-book build`.

Jupyter Book executes a book's notebooks one after another as it reads them, which leaves one of
this machine's two cores idle for most of a cold build. So first every chapter that the execution
cache lacks runs in jupyter-cache's parallel executor (a process per core, each chapter in its own
kernel, started in the chapter's folder, exactly as the build would run it), and the build then
finds every chapter in the cache. A chapter that fails here is simply not cached: the build runs it
again and reports the error with its traceback, as it always has.

After a successful build, the clean notebooks of the chapters are written next to the pages
(_ext/notebooks.py).

Usage: ``python _ext/build_book.py [--path-output DIR]`` (``_build/`` goes under DIR, default
the repository). Prints ``<chapter>: Executing notebook`` for each chapter it runs, in Jupyter
Book's own words, so that one pattern finds every chapter a build executed.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parent.parent
# The reader myst-nb itself gives jupyter-cache, so that the build matches these executions.
MYST_NOTEBOOK = {"type": "plugin", "name": "myst_nb_md"}


def toc_pages(root: Path = ROOT) -> list[str]:
    """The pages of ``root``'s _toc.yml in reading order, as paths without ``.md``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    chapters = [chapter["file"] for part in toc.get("parts", []) for chapter in part["chapters"]]
    return [toc["root"], *chapters]


def chapters() -> list[Path]:
    """The pages of _toc.yml that have code cells."""
    pages = [ROOT / f"{name}.md" for name in toc_pages()]
    return [page for page in pages if "```{code-cell}" in page.read_text()]


def execute_chapters(cache_path: Path) -> None:
    """Run every chapter the cache at ``cache_path`` lacks, in parallel, and cache the results."""
    timeout = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]["timeout"]
    cache = get_cache(cache_path)
    for chapter in chapters():
        cache.add_nb_to_project(str(chapter), read_data=MYST_NOTEBOOK)
    for record in cache.list_unexecuted():
        print(f"{Path(record.uri).relative_to(ROOT)}: Executing notebook", flush=True)
    logger = logging.getLogger("execute_chapters")
    logger.addHandler(logging.StreamHandler())
    load_executor("local-parallel", cache, logger).run_and_cache(timeout=timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT, help="_build/ goes here")
    output = parser.parse_args().path_output.resolve()
    execute_chapters(output / "_build" / ".jupyter_cache")
    build = [Path(sys.executable).with_name("jupyter-book"), "build", ROOT, "-W", "-n"]
    build += ["--keep-going", "--path-output", output]
    returncode = subprocess.run([str(arg) for arg in build], cwd=ROOT, check=False).returncode
    if returncode == 0:
        from notebooks import write_notebooks  # it reads the pages just built

        write_notebooks(output / "_build")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
