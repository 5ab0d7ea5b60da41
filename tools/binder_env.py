"""Does every chapter run in the environment Binder builds from ``binder/``?

Binder (repo2docker) starts from a base image that brings JupyterLab and ipykernel, installs
``binder/requirements.txt`` from the repository's root and runs ``binder/postBuild``. Two checks:

- ``missing_imports()``, fast, in ``make test`` (tests/site/test_publishing.py): every module the
  chapters' code cells import, and every module the library imports or looks up
  (``deepscratch.datasets`` looks up scikit-learn, to read its file of the digits, only when a
  chapter asks for them), is in the standard library or
  installed by a distribution the Binder environment would have -- the requirements' dependency
  closure, read from this environment's installed metadata.
- ``python tools/binder_env.py`` (``make binder-check``, which ``.ci/run`` calls): the real thing.
  A fresh virtual environment gets the base image's packages and ``binder/requirements.txt``,
  and every chapter is opened through jupytext and run top to bottom in a kernel of that
  environment, as a reader's click on the launch button would. So is every reader's notebook
  of the last build (``_build/notebooks/``, what Colab opens): it has no hidden cells, so it
  must run without them.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

from tools.build_book import ROOT, chapters

REQUIREMENTS = ROOT / "binder" / "requirements.txt"
# What repo2docker's base environment has before it reads binder/.
BINDER_BASE = ["jupyterlab", "ipykernel"]
PROJECT = "deepscratch"
COLOURS = r"\x1b\[[0-9;]*m"  # the terminal colours of a kernel's traceback


def requirement_lines(path: Path = REQUIREMENTS) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _name(requirement: str) -> tuple[str, set[str]]:
    """The distribution a requirement line names, and its extras; ``.``/``-e .`` is the project."""
    from packaging.requirements import Requirement

    requirement = requirement.removeprefix("-e").strip()
    if requirement.startswith("."):
        extras = re.findall(r"\[(.*)\]", requirement)
        return PROJECT, {e.strip() for e in extras[0].split(",")} if extras else set()
    parsed = Requirement(requirement)
    return parsed.name, set(parsed.extras)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(requirements: list[str]) -> set[str]:
    """The (normalised) names of every distribution the requirements install, found through the
    metadata of this environment, where the book's dependencies are installed."""
    from packaging.requirements import Requirement

    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [_name(line) for line in requirements]
    while todo:
        name, extras = todo.pop()
        key = (_normal(name), frozenset(extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            dependency = Requirement(line)
            markers = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(dependency.marker.evaluate(m) for m in markers):
                todo.append((dependency.name, set(dependency.extras)))
    return {name for name, _ in seen}


def provided_modules(requirements: list[str]) -> set[str]:
    """Top-level modules importable in the environment the requirements (plus Binder's base)
    build: the standard library's and those of every distribution in the closure."""
    distributions = dependency_closure([*BINDER_BASE, *requirements])
    modules = set(sys.stdlib_module_names)
    for module, owners in metadata.packages_distributions().items():
        if any(_normal(owner) in distributions for owner in owners):
            modules.add(module)
    if PROJECT in distributions:
        modules.add(PROJECT)  # an editable install's modules are not in the metadata
    return modules


def _top_level_imports(source: str) -> set[str]:
    """The top-level modules ``source`` imports, or looks up with ``find_spec("name")`` to
    read their files without importing them."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "find_spec"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            modules.add(str(node.args[0].value).split(".")[0])
    return modules


def _python(cell_source: str) -> str:
    """A code cell's source without IPython's magics and shell escapes."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines()
    )


def imports() -> dict[str, set[str]]:
    """Every top-level module imported by a chapter's code cells or by the library, with where."""
    from myst_nb.core.read import read_myst_markdown_notebook

    found: dict[str, set[str]] = {}
    sources = [(path, path.read_text()) for path in sorted((ROOT / PROJECT).glob("*.py"))]
    for chapter in chapters():
        notebook = read_myst_markdown_notebook(chapter.read_text(), path=str(chapter))
        code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]
        sources.append((chapter, "\n".join(_python(source) for source in code)))
    for path, source in sources:
        for module in _top_level_imports(source):
            found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


def missing_imports(
    requirements: list[str] | None = None, imported: dict[str, set[str]] | None = None
) -> list[str]:
    """What the Binder environment lacks, as readable problems; empty when it has everything."""
    provided = provided_modules(requirement_lines() if requirements is None else requirements)
    imported = imports() if imported is None else imported
    return [
        f"{module} (imported by {', '.join(sorted(where))}) is not installed by binder/"
        for module, where in sorted(imported.items())
        if module not in provided
    ]


def run_chapter(chapter: str) -> str | None:
    """Open a chapter (or a reader's notebook of one) through jupytext and run it top to
    bottom, in the chapter's folder; the error, or None."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(chapter)
    notebook = jupytext.read(path)
    folder = ROOT / "book" if path.suffix == ".ipynb" else path.parent
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
    )
    try:
        client.execute()
    except CellExecutionError as error:
        last_line = re.sub(COLOURS, "", str(error).strip().splitlines()[-1])
        return f"{path.name}: {last_line}"
    return None


def run_chapters(paths: list[str]) -> int:
    """Run in the fresh environment, which has only what Binder would have: the chapters and
    the readers' notebooks, two at a time."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        errors = [error for error in pool.map(run_chapter, paths) if error]
    print(f"{len(paths) - len(errors)} of {len(paths)} chapters and readers' notebooks ran")
    print(*errors, sep="\n")
    return 1 if errors else 0


def main() -> int:
    if sys.argv[1:2] == ["--run"]:
        return run_chapters(sys.argv[2:])
    notebooks = sorted((ROOT / "_build" / "notebooks").rglob("*.ipynb"))
    if len(notebooks) != len(chapters()):
        print("The readers' notebooks are missing or incomplete: build the book (make book).")
        return 1
    with tempfile.TemporaryDirectory(prefix="binder-env-") as folder:
        python = Path(folder) / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        pip = [python, "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *BINDER_BASE], check=True)
        subprocess.run([*pip, "-r", REQUIREMENTS], check=True, cwd=ROOT)
        subprocess.run(
            ["bash", ROOT / "binder" / "postBuild"],
            check=True,
            cwd=ROOT,
            env={"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": folder},
        )
        run = [python, __file__, "--run", *chapters(), *notebooks]
        return subprocess.run(run, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
