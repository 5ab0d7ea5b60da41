"""The clean notebooks of the chapters (tools/notebooks.py), which the site's download button
serves and Colab opens.

First the converter on small inputs, each MyST construct against the Markdown it must become,
and the checks on deliberately broken input. Then every notebook of the built book: written to
both places, valid, free of MyST and test machinery, with the executed outputs, the glued numbers,
the listings and the citations the site shows. Last, one chapter's notebook runs top to bottom
in a fresh virtual environment where only this repository is installed.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import jupytext
import nbformat
import pytest
from bs4 import BeautifulSoup
from myst_nb.core.variables import format_plain_text

import deepscratch
from conftest import ROOT
from tools.build_book import chapters, toc_pages
from tools.notebooks import (
    GLUE_PREFIX,
    SITE_URL,
    OwnCell,
    Page,
    Site,
    clean_notebook,
    convert_markdown,
    executed_notebook,
    glued,
    leftover_myst,
    shown_outputs,
    split_at_headings,
)

BUILD = ROOT / "_build"
PAGES = [chapter.relative_to(ROOT).with_suffix("").as_posix() for chapter in chapters()]

# --- the converter on small inputs -----------------------------------------------------------

URL = "https://example.org/book/"
SITE = Site(
    URL,
    titles={"book/02_perceptrons": "Perceptrons"},
    sections={"ch05-chain": ("book/05_backpropagation", "The chain rule along a chain")},
    equations={"eq-chain": ("book/05_backpropagation", "(5.1)")},
    exercises={"ex-05-a": ("book/05_backpropagation", "Exercise 5.1 (★ A task)")},
    anchors={"deepscratch.train.Optimizer.minimize": "book/api", "deepscratch.add": "book/api"},
    citations={
        "kahn1962": ("Kahn", "1962", f"{URL}book/references.html#id5"),
        "he2015": ("He *et al.*", "2015", f"{URL}book/references.html#id7"),
    },
)
CHAPTER = f"{URL}book/05_backpropagation.html"
API = f"{URL}book/api.html"


def convert(myst: str) -> str:
    """``myst`` as a Markdown cell of chapter 5 becomes: its parts, a cell of its own shown
    as ``[cell {metadata}]`` and its source."""
    page = Page("book/05_backpropagation", SITE, glue={"loss": "0.1234567", "rate": "0.25"})
    parts = convert_markdown(myst, page, ROOT / "book" / "05_backpropagation.md")
    return "\n\n".join(
        f"[cell {part.metadata}]\n{part.source}" if isinstance(part, OwnCell) else part
        for part in parts
    )


@pytest.mark.parametrize(
    ("myst", "markdown"),
    [
        ("a loss of {glue:text}`loss:.3f`.", "a loss of 0.123."),
        ("{glue:text}`rate:.0%` of {glue:text}`loss`", "25% of 0.1234567"),
        ("{doc}`02_perceptrons`", f"[Perceptrons]({URL}book/02_perceptrons.html)"),
        ("{doc}`chapter 2\n<02_perceptrons>`", f"[chapter 2]({URL}book/02_perceptrons.html)"),
        ("{ref}`ch05-chain`", f"[The chain rule along a chain]({CHAPTER}#ch05-chain)"),
        ("{ref}`the chain <ch05-chain>`", f"[the chain]({CHAPTER}#ch05-chain)"),
        ("{ref}`ex-05-a`", f"[Exercise 5.1 (★ A task)]({CHAPTER}#ex-05-a)"),
        ("{numref}`Ex-05-A`", f"[Exercise 5.1 (★ A task)]({CHAPTER}#ex-05-a)"),
        ("by {eq}`eq-chain`,", f"by [(5.1)]({CHAPTER}#equation-eq-chain),"),
        ("by {eq}`Eq-Chain`,", f"by [(5.1)]({CHAPTER}#equation-eq-chain),"),
        ("{math}`x^2`", "$x^2$"),
        ("{py:class}`~deepscratch.add`", f"[`add`]({API}#deepscratch.add)"),
        (
            "{py:meth}`deepscratch.train.Optimizer.minimize`",
            f"[`deepscratch.train.Optimizer.minimize()`]({API}"
            "#deepscratch.train.Optimizer.minimize)",
        ),
        ("{cite:p}`kahn1962`", f"[[Kahn, 1962]({URL}book/references.html#id5)]"),
        (
            "{cite:p}`kahn1962,he2015`",
            f"[[Kahn, 1962]({URL}book/references.html#id5), "
            f"[He *et al.*, 2015]({URL}book/references.html#id7)]",
        ),
        ("{cite:t}`he2015` show", f"He *et al.* [[2015]({URL}book/references.html#id7)] show"),
        ("(ch05-chain)=\n## The chain rule", "## The chain rule"),
        ("$$\nx = 1\n$$ (eq-chain)", "$$\nx = 1\n\\tag{5.1}\n$$"),
        ("$$\nx = 1\n$$ (Eq-Chain)", "$$\nx = 1\n\\tag{5.1}\n$$"),
        (
            "3. Step:\n\n   $$\n   x\n   $$ (eq-chain)",
            "3. Step:\n\n   $$\n   x\n   \\tag{5.1}\n   $$",
        ),
        ("$$\nx = 1\n$$", "$$\nx = 1\n$$"),
        (
            ":::{admonition} After this chapter you can\n:class: tip\n\n- add;\n- multiply.\n:::",
            "> **After this chapter you can**\n>\n> - add;\n> - multiply.",
        ),
        (
            "## Exercises\n\n:::{exercise} ★ A task\n:label: ex-05-a\n\nUse {eq}`eq-chain`.\n\n"
            "```python\nx = 1\n```\n:::",
            "## Exercises\n\n### Exercise 5.1 (★ A task)\n\n"
            f"Use [(5.1)]({CHAPTER}#equation-eq-chain).\n\n```python\nx = 1\n```",
        ),
        (
            ":::{solution} ex-05-a\n:class: dropdown\n\nIt is $x$.\n:::",
            "<details>\n<summary>Solution to Exercise 5.1 (★ A task)</summary>\n\n"
            "It is $x$.\n\n</details>",
        ),
        (
            "## Exercises\n\n:::{solution-start} ex-05-a\n:class: dropdown\n:::\n\nFirst this:",
            "## Exercises\n\n[cell {'jp-MarkdownHeadingCollapsed': True}]\n"
            "#### Solution to Exercise 5.1 (★ A task)\n\nFirst this:",
        ),
        ("As shown.\n\n:::{solution-end}\n:::\n", "As shown."),
    ],
)
def test_each_construct_becomes_plain_markdown(myst, markdown):
    assert convert(myst).strip() == markdown
    assert leftover_myst(convert(myst)) == []


def test_code_stays_code():
    code = "```python\n(x)=\n{eq}`a`\n:::{note}\n```"
    assert convert(f"Text:\n\n{code}") == f"Text:\n\n{code}"


def test_a_listing_is_the_code_the_site_shows():
    markdown = convert(
        "```{literalinclude} ../deepscratch/gradients.py\n:pyobject: unbroadcast\n```"
    )
    source = inspect.getsource(deepscratch.gradients.unbroadcast).rstrip()
    assert markdown == f"```python\n{source}\n```"


def test_an_unknown_role_or_directive_is_left_and_found():
    planted = "{term}`loss` and\n\n:::{note}\nA note.\n:::\n\n```{glossary}\nx\n```"
    assert convert(planted) == planted
    assert leftover_myst(convert(planted)) == ["{term}`loss`", ":::{note}", "```{glossary}"]


def test_a_label_the_site_lacks_is_an_error():
    for myst in ["{ref}`nowhere`", "{eq}`nowhere`", "{cite:p}`nobody2000`", "{glue:text}`x`"]:
        with pytest.raises(ValueError, match=r"no '(nowhere|nobody2000|x)' on the site"):
            convert(myst)


def test_leftover_myst_finds_each_kind_and_nothing_else():
    clean = 'Text with $\\{x\\}$, `f"{x}"`, a [link](a.html) and\n\n```python\nd = {}\n```'
    assert leftover_myst(clean) == []
    planted = [
        "{glue:text}`loss:.3f`",
        ":::{exercise} A task",
        "```{code-cell} ipython3",
        "(ch05-chain)=",
        "$$ (eq-chain)",
        "# expect:",
    ]
    for text in planted:
        assert leftover_myst(f"Some text.\n{text}\nMore text.") == [text]


def test_shown_outputs_drop_glue_records():
    record = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "x"}}}
    record["data"] = {f"{GLUE_PREFIX}text/plain": "1.5"}
    figure = {"output_type": "display_data", "metadata": {"image/png": {"width": 10}}}
    figure["data"] = {"image/png": "iVBOR", "text/plain": "<Figure>", f"{GLUE_PREFIX}x": "1"}
    printed = {"output_type": "stream", "name": "stdout", "text": "1.5\n"}
    kept = shown_outputs([record, figure, printed])
    assert kept == [
        {**figure, "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}},
        printed,
    ]


def test_shown_outputs_join_the_pieces_of_a_stream():
    def stream(name, text):
        return {"output_type": "stream", "name": name, "text": text}

    pieces = [stream("stdout", "a\n"), stream("stdout", ["b", "\n"]), stream("stderr", "!\n")]
    pieces.append(stream("stdout", "c\n"))
    assert shown_outputs(pieces) == [
        stream("stdout", "a\nb\n"),
        stream("stderr", "!\n"),
        stream("stdout", "c\n"),
    ]


# --- what is wrong with a notebook ------------------------------------------------------------


SETUP_LINES = [
    "if importlib.util.find_spec(module) is None:",
    '("deepscratch", "deepscratch @ git+https://github.com/deepscratch/deepscratch")',
    '%config InlineBackend.figure_formats = ["retina"]',
]


def notebook_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Raw MyST, front matter, test machinery and glue records left in a notebook, and what a
    notebook that runs anywhere must have: a setup cell first that installs deepscratch when it
    is missing."""
    problems = ["jupytext's metadata"] if "jupytext" in notebook.metadata else []
    for number, cell in enumerate(notebook.cells):
        problems += [f"cell {number}: {found}" for found in leftover_myst(cell.source)]
        if cell.source.startswith("---\n"):
            problems.append(f"cell {number}: front matter")
        if len(split_at_headings(cell)) > 1:
            problems.append(f"cell {number}: text before a heading, outside its fold")
        if "remove-cell" in cell.metadata.get("tags", []):
            problems.append(f"cell {number}: a remove-cell cell")
        for output in cell.get("outputs", []):
            glue = [mime for mime in output.get("data", {}) if mime.startswith(GLUE_PREFIX)]
            problems += [f"cell {number}: a glue record {mime}" for mime in glue]
    setup = next((cell.source for cell in notebook.cells if cell.cell_type == "code"), "")
    for needed in SETUP_LINES:
        if needed not in setup:
            problems.append(f"the first code cell lacks {needed}")
    return problems


def test_a_cell_is_cut_before_each_heading_that_follows_text():
    cell = nbformat.v4.new_markdown_cell(
        "Last words.\n\n### Exercise 5.2\n\nDo it.\n\n```python\n# a comment\n```",
        metadata={"tags": ["x"]},
    )
    pieces = split_at_headings(cell)
    assert [piece.source for piece in pieces] == [
        "Last words.",
        "### Exercise 5.2\n\nDo it.\n\n```python\n# a comment\n```",
    ]
    assert pieces[0].metadata == {"tags": ["x"]} and pieces[1].metadata == {}
    assert len(split_at_headings(nbformat.v4.new_markdown_cell("## A\n\ntext"))) == 1


def test_notebook_problems_are_found():
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("\n".join(SETUP_LINES))])
    assert notebook_problems(good) == []
    bad = nbformat.v4.new_notebook(
        metadata={"jupytext": {"formats": "md:myst"}},
        cells=[
            nbformat.v4.new_markdown_cell("---\nkernelspec:\n  name: python3\n---"),
            nbformat.v4.new_markdown_cell("Loss {glue:text}`loss:.3f`."),
            nbformat.v4.new_code_cell("glue('x', 1)", metadata={"tags": ["remove-cell"]}),
            nbformat.v4.new_code_cell("print(1)\n# expect:\n# 1"),
            nbformat.v4.new_markdown_cell("The end of a solution.\n\n### Exercise 5.2"),
        ],
    )
    bad.cells[3].outputs = [
        nbformat.v4.new_output("display_data", data={f"{GLUE_PREFIX}text/plain": "1"})
    ]
    assert notebook_problems(bad) == [
        "jupytext's metadata",
        "cell 0: front matter",
        "cell 1: {glue:text}`loss:.3f`",
        "cell 2: a remove-cell cell",
        "cell 3: # expect:",
        f"cell 3: a glue record {GLUE_PREFIX}text/plain",
        "cell 4: text before a heading, outside its fold",
        *[f"the first code cell lacks {line}" for line in SETUP_LINES],
    ]


# --- every notebook of the built book ---------------------------------------------------------

notebooks_group = pytest.mark.xdist_group("notebooks")


@pytest.fixture(scope="module")
def built(built_site) -> dict[str, str]:
    """Each page's notebook as written for the download button (after a successful build)."""
    return {page: (built_site / "_sources" / f"{page}.ipynb").read_text() for page in PAGES}


@pytest.fixture(scope="module")
def site(built) -> Site:
    return Site.read(BUILD / "html", toc_pages())


def visible_code_cells(notebook) -> list[dict]:
    return [
        cell
        for cell in notebook["cells"]
        if cell["cell_type"] == "code" and "remove-cell" not in cell["metadata"].get("tags", [])
    ]


def images(cells) -> int:
    mimes = ("image/png", "image/svg+xml")
    return sum(any(m in out.get("data", {}) for m in mimes) for c in cells for out in c["outputs"])


def test_the_pages_with_code_cells_have_notebooks():
    assert len(PAGES) >= 13 and "book/differences" in PAGES


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_the_notebook_is_valid_and_the_same_in_both_places(built, page):
    assert (BUILD / "notebooks" / f"{page}.ipynb").read_text() == built[page]
    notebook = nbformat.reads(built[page], as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4 and notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.language_info.name == "python"


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_the_notebook_has_no_myst_and_no_machinery_and_sets_up_first(built, page):
    notebook = nbformat.reads(built[page], as_version=4)
    assert notebook_problems(notebook) == []
    assert f"]({SITE_URL}{page}.html)" in notebook.cells[1].source  # the page it comes from


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_the_notebook_has_the_executed_outputs(built, page):
    """The figures, and an output wherever the page has one."""
    notebook = nbformat.reads(built[page], as_version=4)
    executed = visible_code_cells(executed_notebook(page))
    cells = visible_code_cells(notebook)[1:]  # after the setup cell
    assert len(cells) == len(executed)
    assert images(cells) == images(executed)
    assert [bool(cell.outputs) for cell in cells] == [
        bool(shown_outputs(cell["outputs"])) for cell in executed
    ]
    assert images(cells) > 0 or page == "book/differences"


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_every_glued_number_is_in_the_text(built, page):
    values = glued(executed_notebook(page))
    text = "\n".join(
        cell.source for cell in nbformat.reads(built[page], as_version=4).cells
    ).replace("\n", " ")
    source = (ROOT / f"{page}.md").read_text()
    for name, spec in re.findall(r"\{glue:text\}`([^`:]+):?([^`]*)`", source):
        value = format_plain_text(values[name], spec or "s")
        # The number as a whole: not the start of the unformatted value.
        assert re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", text), f"{name}:{spec} {value}"


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_the_listings_are_the_sites(built, page):
    """Every code block of the text (listings of the library, code in exercises) reads as on
    the site."""
    notebook = nbformat.reads(built[page], as_version=4)
    markdown = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    blocks = re.findall(r"^ *```\w*\n(.*?)\n *```$", markdown, re.M | re.S)
    soup = BeautifulSoup((BUILD / "html" / f"{page}.html").read_text(), "html.parser")
    pres = soup.select("main div.highlight pre")
    shown = [pre.get_text().rstrip("\n") for pre in pres if not pre.find_parent(class_="cell")]
    assert blocks == shown


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_the_citations_read_as_on_the_site(site, page):
    converting = Page(page, site)
    cited = re.findall(r"\{(cite:[pt])\}`(.*?)`", (ROOT / f"{page}.md").read_text())
    # As text: each link its text, no emphasis, no escapes.
    ours = [re.sub(r"\[([^\[\]]*)\]\([^)]*\)", r"\1", converting.role(*role)) for role in cited]
    ours = [text.replace("*", "").replace("\\", "") for text in ours]
    soup = BeautifulSoup((BUILD / "html" / f"{page}.html").read_text(), "html.parser")
    assert ours == [span.get_text() for span in soup.select("main span.bibtex-citation")]


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_every_link_to_the_site_leads_to_a_page_and_an_anchor_of_it(built, page):
    markdown = "\n".join(cell.source for cell in nbformat.reads(built[page], as_version=4).cells)
    links = set(re.findall(rf"\]\({re.escape(SITE_URL)}([^)#]*)#?([^)]*)\)", markdown))
    assert links
    for path, anchor in sorted(links):
        target = BUILD / "html" / (path or "index.html")
        assert target.is_file(), path
        assert not anchor or anchor in ids(target), f"{path}#{anchor}"


@functools.cache
def ids(page: Path) -> set[str]:
    soup = BeautifulSoup(page.read_text(), "html.parser")
    return {element["id"] for element in soup.find_all(id=True)}


@notebooks_group
@pytest.mark.parametrize("page", PAGES)
def test_equations_and_exercises_are_numbered_as_on_the_site(built, page):
    markdown = "\n".join(cell.source for cell in nbformat.reads(built[page], as_version=4).cells)
    soup = BeautifulSoup((BUILD / "html" / f"{page}.html").read_text(), "html.parser")
    numbers = [span.contents[0].strip() for span in soup.select("main span.eqno")]
    assert [f"({tag})" for tag in re.findall(r"\\tag\{(.*?)\}", markdown)] == numbers
    captions = [p.get_text() for p in soup.select("main .exercise .admonition-title")]
    exercises = re.findall(r"^#+ (Exercise \d+\.\d+ .*)$", markdown.replace("`", ""), re.M)
    assert [" ".join(caption.split()) for caption in captions] == exercises


@notebooks_group
def test_the_same_chapter_gives_the_same_file(built, site):
    for page in PAGES:
        assert nbformat.writes(clean_notebook(page, site)).rstrip("\n") + "\n" == built[page]


# --- a notebook runs where only this repository is installed -----------------------------------

FRESH_CHAPTER = "book/06_multilayer_perceptrons"


# Not in the notebooks' group: it needs none of the group's fixtures, and on its own it can run on
# whichever worker is free while the group runs on another.
def test_a_chapter_runs_in_a_fresh_environment_with_only_this_repository(built, tmp_path):
    """A new venv, ``pip install`` of a copy of this repository (numpy and matplotlib come from
    PyPI), then the chapter's notebook as a script (its one magic, ``%config``, a comment):
    it runs top to bottom and prints what the notebook shows. Nothing can be fetched while it
    runs, so the setup cell must find deepscratch installed and not go to GitHub for it (the
    venv has no pip of its own to fetch with). Its modules are compiled as they are imported,
    not all at install time."""
    ignore = shutil.ignore_patterns("_build", ".*", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, tmp_path / "repository", ignore=ignore)  # pip builds in the tree
    venv.create(tmp_path / "venv", with_pip=False)
    python = str(tmp_path / "venv" / "bin" / "python")
    install = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    install += ["--no-compile", str(tmp_path / "repository")]
    subprocess.run(install, check=True, capture_output=True, timeout=600)

    notebook = jupytext.reads(built[FRESH_CHAPTER], fmt="ipynb")
    script = tmp_path / "chapter.py"
    jupytext.write(notebook, script, fmt="py:percent")
    # Neither pip nor git may fetch anything while it runs.
    env = {**os.environ, "MPLBACKEND": "Agg", "PIP_NO_INDEX": "1", "GIT_ALLOW_PROTOCOL": "file"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        [python, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    printed = [
        output["text"]
        for cell in nbformat.reads(built[FRESH_CHAPTER], as_version=4).cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream" and output["name"] == "stdout"
    ]
    assert run.stdout == "".join(printed)
