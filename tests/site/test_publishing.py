"""How readers get the book beyond the site: the launch buttons (Binder, Colab), the book as a
PDF, and the workflow that publishes them.

- The environment Binder builds from binder/ has every module the chapters import (the full
  run of every chapter in a fresh copy of it is ``make binder-check``, tools/binder_env.py).
- Every chapter page's launch menu opens it on Binder and in Colab, and its download menu offers
  the whole book as a PDF. Colab and the published PDF cannot be reached from here: the tests
  check that the links are formed as those services and the workflow expect.
- The workflow runs the tests before it publishes anything, and publishes the PDF and the
  notebooks the links point at.
"""

from __future__ import annotations

import re

import yaml
from bs4 import BeautifulSoup

from _ext.header_links import NOTEBOOKS_BRANCH, PDF_NAME, colab_url
from conftest import HTML, ROOT
from tools.binder_env import missing_imports, requirement_lines
from tools.build_book import chapters

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())


# --- Binder ------------------------------------------------------------------------------------


def test_binder_installs_the_projects_own_dependency_list():
    """One source: binder/ installs the project with an extra of pyproject.toml and names no
    package of its own, which could drift from that list."""
    assert requirement_lines() == ["-e .[book]"]


def test_every_module_the_chapters_import_is_in_the_binder_environment():
    assert missing_imports() == []


def test_a_module_the_environment_lacks_is_reported():
    imported = {"numpy": {"book/a.md"}, "torch": {"book/b.md"}, "json": {"book/a.md"}}
    assert missing_imports(["-e .[book]"], imported) == [
        "torch (imported by book/b.md) is not installed by binder/"
    ]


def test_the_old_binder_list_would_have_failed():
    """numpy, matplotlib and jupytext without the book's extra: every chapter stopped at
    ``from myst_nb import glue``, and the digits chapter at scikit-learn."""
    problems = missing_imports(["numpy>=2.0", "matplotlib>=3.8", "jupytext>=1.16"])
    assert any(problem.startswith("myst_nb ") for problem in problems), problems
    assert any(problem.startswith("sklearn ") for problem in problems), problems


# --- the header menus ----------------------------------------------------------------------------


def test_colab_links_open_the_notebooks_branch():
    url = colab_url("https://github.com/deepscratch/deepscratch", "book/05_backpropagation")
    assert url == (
        "https://colab.research.google.com/github/deepscratch/deepscratch/blob/notebooks/"
        "book/05_backpropagation.ipynb"
    )
    assert colab_url("https://github.com/a/b.git/", "x") == (
        "https://colab.research.google.com/github/a/b/blob/notebooks/x.ipynb"
    )


def _menu(page: BeautifulSoup, label: str) -> dict[str, str]:
    """The entries of one of a page's header menus, text -> address."""
    menu = page.select_one(f".dropdown-{label}")
    return {} if menu is None else {a.get_text(strip=True): a["href"] for a in menu.select("a")}


def test_every_chapter_launches_on_binder_and_colab_and_offers_the_pdf(built_book):
    repository = CONFIG["repository"]["url"]
    owner_and_name = repository.removeprefix("https://github.com/")
    pdf = CONFIG["html"]["baseurl"] + PDF_NAME
    for chapter in chapters():
        page = chapter.relative_to(ROOT).with_suffix("").as_posix()
        html = BeautifulSoup((HTML / f"{page}.html").read_text(), "lxml")
        launch = _menu(html, "launch-buttons")
        assert launch.get("Binder") == (
            f"https://mybinder.org/v2/gh/{owner_and_name}/{CONFIG['repository']['branch']}"
            f"?urlpath=lab/tree/{page}.md"
        ), page
        assert launch.get("Colab") == colab_url(repository, page), page
        # the notebook Colab opens is one the build wrote for the workflow to publish
        assert (ROOT / "_build" / "notebooks" / f"{page}.ipynb").exists(), page
        assert _menu(html, "download-buttons").get("book .pdf") == pdf, page


def test_the_preface_gives_the_sites_address():
    """On paper there are no buttons: the preface says where the site is."""
    assert f"<{CONFIG['html']['baseurl']}>" in (ROOT / "book" / "preface.md").read_text()


# --- the publishing workflow ---------------------------------------------------------------------


def _steps() -> list[str]:
    """Each step of the build job, as one string of what it uses and runs."""
    return [
        f"{step.get('uses', '')} {step.get('run', '')}"
        for step in WORKFLOW["jobs"]["build"]["steps"]
    ]


def _index(steps: list[str], pattern: str) -> int:
    found = [i for i, step in enumerate(steps) if re.search(pattern, step, re.S)]
    assert found, f"no step of the workflow matches {pattern!r}"
    return found[0]


def test_the_workflow_tests_before_it_publishes():
    steps = _steps()
    tests = _index(steps, r"bash \.ci/run")
    assert tests < _index(steps, r"upload-pages-artifact"), "it publishes before the tests run"
    assert tests < _index(steps, rf"git push .*\b{NOTEBOOKS_BRANCH}\b"), "notebooks before tests"
    assert WORKFLOW["jobs"]["deploy"]["needs"] == "build"


def test_the_workflow_publishes_the_pdf_and_the_notebooks_the_links_point_at():
    steps = _steps()
    printing = steps[_index(steps, r"make pdf")]
    assert f"_build/pdf/{PDF_NAME} _build/html/" in printing  # at the site's root
    push = steps[_index(steps, r"git push")]
    assert "cd _build/notebooks" in push and f"--initial-branch={NOTEBOOKS_BRANCH}" in push


def test_the_workflow_caches_pip_and_the_execution_cache():
    steps = WORKFLOW["jobs"]["build"]["steps"]
    assert any(step.get("with", {}).get("cache") == "pip" for step in steps)
    assert any(step.get("with", {}).get("path") == "_build/.jupyter_cache" for step in steps)
