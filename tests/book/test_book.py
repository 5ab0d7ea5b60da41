"""The book builds: every chapter executes, with zero warnings, into a page of the site."""

import ast
import re
import symtable
from pathlib import Path

import jupytext
import pytest
from bs4 import BeautifulSoup

from _ext.declared_outputs import shown_source
from conftest import ROOT
from tools.binder_env import _python
from tools.build_book import chapters, code_cells, toc_pages

pytestmark = pytest.mark.xdist_group("build")


def test_the_book_builds_without_warnings(built_book):
    log = (ROOT / "_build" / "build.log").read_text()
    assert built_book.returncode == 0, built_book.stdout[-5000:]
    assert "build succeeded" in log
    assert not re.findall(r"(WARNING|ERROR): .*", log), log[-5000:]


@pytest.mark.parametrize("page", toc_pages())
def test_every_page_of_the_toc_is_in_the_site(built_book, page):
    html = ROOT / "_build" / "html" / f"{page}.html"
    soup = BeautifulSoup(html.read_text(), "html.parser")
    assert soup.find("h1")
    # A traceback is shown only where a cell demonstrates an error on purpose.
    for cell in soup.select("div.cell"):
        if cell.select(".output.traceback"):
            assert "tag_raises-exception" in cell["class"], cell.get_text()[:2000]


# What the tests need and the reader does not: glued numbers, declared outputs (# expect:).
MACHINERY = re.compile(r"# expect:|\bglue\(|myst_nb")


def machinery_shown(html: str) -> list[str]:
    """The code cells of a built page that show test machinery to the reader."""
    cells = BeautifulSoup(html, "html.parser").select("div.cell_input")
    return [cell.get_text()[:300] for cell in cells if MACHINERY.search(cell.get_text())]


@pytest.mark.parametrize("page", toc_pages())
def test_no_code_cell_shows_test_machinery(built_book, page):
    html = (ROOT / "_build" / "html" / f"{page}.html").read_text()
    assert machinery_shown(html) == []


def test_shown_machinery_is_caught():
    page = '<div class="cell_input"><pre>{}</pre></div>'
    assert machinery_shown(page.format("x = 1\nprint(x)")) == []
    planted = ["print(x)\n# expect:\n# 1", "glue('x', x, display=False)", "from myst_nb import *"]
    for code in planted:
        assert machinery_shown(page.format(code)) == [code]


LONGEST_CODE_LINE = 79  # characters: what the page's code column holds, as in deepscratch/


def long_code_lines(chapter: Path) -> list[str]:
    """Lines of the code cells a reader can see (hidden inputs too: they open on a click)
    that are too long for the page's code column; a declared output is not shown."""
    notebook = jupytext.read(chapter)
    long = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "remove-cell" in cell.metadata.get("tags", []):
            continue
        long += [
            line for line in shown_source(cell.source).splitlines() if len(line) > LONGEST_CODE_LINE
        ]
    return long


@pytest.mark.parametrize("page", toc_pages())
def test_code_cells_fit_the_page(page):
    assert long_code_lines(ROOT / f"{page}.md") == []


def test_a_long_code_line_is_caught(tmp_path):
    chapter = tmp_path / "chapter.md"
    cell = "```{{code-cell}} ipython3\n{}\n```\n"
    header = "---\nkernelspec:\n  name: python3\n  display_name: Python 3\n---\n"
    line = "x = " + "1 + " * 20 + "1"
    hidden = "```{code-cell} ipython3\n:tags: [remove-cell]\n" + line + "\n```\n"
    chapter.write_text(
        header + cell.format(line) + hidden + cell.format("y = 1\n# expect:\n# " + line)
    )
    assert long_code_lines(chapter) == [line]


def _bound(tree: ast.AST) -> set[str]:
    """The names a cell binds at the top level (not inside its functions and classes)."""
    names: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if not isinstance(node, ast.Lambda | ast.comprehension):
            names |= _bound(node)
    return names


def _globals_read(table: symtable.SymbolTable) -> set[str]:
    """The global names a cell reads, in its top level or in the functions it defines."""
    top = table.get_type() == "module"
    names = {
        s.get_name() for s in table.get_symbols() if s.is_referenced() and (top or s.is_global())
    }
    for child in table.get_children():
        names |= _globals_read(child)
    return names


def hidden_names_read(chapter: Path) -> list[str]:
    """The names that a visible code cell reads after a hidden (remove-cell) one bound them.
    The reader's notebook has no hidden cells: there the name would be missing, or hold
    another value than on the page."""
    hidden: dict[str, str] = {}  # name -> the first line of the hidden cell that bound it
    found = []
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type != "code":
            continue
        code = _python(cell.source)
        bound, first_line = _bound(ast.parse(code)), cell.source.partition("\n")[0]
        if "remove-cell" in cell.metadata.get("tags", []):
            hidden |= dict.fromkeys(bound, first_line)
            continue
        read = _globals_read(symtable.symtable(code, "cell", "exec")) - bound
        for name in sorted(read & hidden.keys()):
            found.append(f"{first_line!r} reads {name}, bound by the hidden {hidden[name]!r}")
        for name in bound:
            hidden.pop(name, None)
    return found


@pytest.mark.parametrize("chapter", chapters(), ids=lambda chapter: chapter.stem)
def test_visible_cells_read_nothing_only_hidden_cells_bind(chapter):
    assert hidden_names_read(chapter) == []


def test_a_name_bound_by_a_hidden_cell_is_caught(tmp_path):
    chapter = tmp_path / "chapter.md"
    cell = "```{{code-cell}} ipython3\n{}```\n"
    hidden = "```{{code-cell}} ipython3\n:tags: [remove-cell]\n{}```\n"
    chapter.write_text(
        cell.format("%config InlineBackend.figure_formats = ['retina']\nrows = 1\n")
        + hidden.format("rows, limit = 2, 3\ndef helper(x):\n    return x\n")
        + cell.format("def shown(limit):\n    return limit + rows\n")  # rows: the hidden 2
        + cell.format("limit = 4\nprint(limit, [x for x in range(limit)])\n")  # its own
        + cell.format("print(helper(1))\n")
    )
    assert hidden_names_read(chapter) == [
        "'def shown(limit):' reads rows, bound by the hidden 'rows, limit = 2, 3'",
        "'print(helper(1))' reads helper, bound by the hidden 'rows, limit = 2, 3'",
    ]


SOLUTION = re.compile(r"\{solution-start\}.*?\{solution-end\}", re.DOTALL)


def test_no_chapter_retypes_library_code():
    """A chapter shows the library with literalinclude. Only an exercise's solution defines
    an operation of its own: the one the exercise asks the reader to write."""
    chapters = [ROOT / f"{page}.md" for page in toc_pages()]
    retyped = re.compile(r"^\s*(class \w+\((ds\.|deepscratch\.)?Operation\)|def compute\()", re.M)
    for chapter in chapters:
        for _, source in code_cells(SOLUTION.sub("", chapter.read_text())):
            assert not retyped.search(source), f"{chapter.name} re-types library code"


# The pages that teach, as opposed to the recap, the next steps and the reference pages.
NOT_TEACHING = {"preface", "07_recap", "09_next_steps", "notation", "differences", "references"}
TEACHING = [page for page in toc_pages() if Path(page).name not in NOT_TEACHING | {"api"}]
GOALS = re.compile(r":::\{admonition\} After this chapter you can\n:class: tip\n\n((?:- .*\n)+):::")
EXERCISE = re.compile(r":::\{exercise\} (.*)\n:label: (\S+)\n((?:.*\n)*?):::")


def chapter_structure_problems(text: str) -> list[str]:
    """What a teaching chapter lacks: goals up front, a summary, and at least three graded
    exercises that each say what they practise and have a solution."""
    problems = []
    goals = GOALS.search(text)
    if not goals or not 3 <= goals.group(1).count("\n- ") + 1 <= 5:
        problems.append("no 'After this chapter you can' tip with 3 to 5 points")
    elif goals.start() > text.find("\n## "):
        problems.append("the goals come after the first section")
    summary, exercises = text.find("\n## Summary\n"), text.find("\n## Exercises\n")
    if not 0 < summary < exercises:
        problems.append("no '## Summary' followed by '## Exercises'")
    found = EXERCISE.findall(text[exercises:]) if exercises > 0 else []
    if len(found) < 3:
        problems.append(f"{len(found)} exercises, not at least 3")
    for title, label, body in found:
        if not re.match(r"★{1,3} \S", title):
            problems.append(f"exercise {label}: its title is not graded ★ to ★★★: {title!r}")
        if "*Practises:*" not in body:
            problems.append(f"exercise {label}: does not say what it practises")
        if not re.search(rf"\{{solution(-start)?\}} {re.escape(label)}\n", text):
            problems.append(f"exercise {label}: no solution")
    return problems


@pytest.mark.parametrize("page", TEACHING)
def test_every_teaching_chapter_has_goals_a_summary_and_exercises(page):
    assert chapter_structure_problems((ROOT / f"{page}.md").read_text()) == []


def test_a_chapter_without_them_is_caught():
    exercise = (
        ":::{{exercise}} {title}\n:label: ex-{n}\n\n*Practises:* something.\n:::\n\n"
        ":::{{solution}} ex-{n}\n:class: dropdown\n\nAn answer.\n:::\n"
    )
    good = (
        "# A chapter\n\n:::{admonition} After this chapter you can\n:class: tip\n\n"
        "- do one thing;\n- do another;\n- do a third.\n:::\n\n## A section\n\nText.\n\n"
        "## Summary\n\nWhat we built.\n\n## Exercises\n\n"
        + "".join(exercise.format(title="★ A task", n=n) for n in range(3))
    )
    assert chapter_structure_problems(good) == []
    assert chapter_structure_problems(good.replace("- do a third.\n", "")) == [
        "no 'After this chapter you can' tip with 3 to 5 points"
    ]
    assert "2 exercises, not at least 3" in chapter_structure_problems(
        good.replace(exercise.format(title="★ A task", n=2), "")
    )
    assert chapter_structure_problems(good.replace("★ A task", "A task", 1)) == [
        "exercise ex-0: its title is not graded ★ to ★★★: 'A task'"
    ]
    assert chapter_structure_problems(good.replace(":::{solution} ex-1", ":::{note}")) == [
        "exercise ex-1: no solution"
    ]
    assert chapter_structure_problems(good.replace("## Summary", "## Wrap-up")) == [
        "no '## Summary' followed by '## Exercises'"
    ]


LITERALINCLUDE = re.compile(r"```\{literalinclude\} (\S+)\n((?:[ \t]*:[\w-]+:.*\n)*)")
LONGEST_LISTING = 25  # lines: a listing a reader takes in at a glance


def listings(chapter: Path) -> list[tuple[str, str]]:
    """Each literalinclude of ``chapter`` as (what it includes, the text the page shows)."""
    from sphinx.config import Config
    from sphinx.directives.code import LiteralIncludeReader

    found = []
    for path, options in LITERALINCLUDE.findall(chapter.read_text()):
        option = dict(re.findall(r":([\w-]+):[ \t]*(.*)", options))
        text, _ = LiteralIncludeReader(str(chapter.parent / path), option, Config()).read()
        found.append((f"{path} {option}", text))
    return found


@pytest.mark.parametrize("page", toc_pages())
def test_every_listing_is_short_enough_to_read_at_a_glance(page):
    chapter = ROOT / f"{page}.md"
    long = {what: text.count("\n") for what, text in listings(chapter)}
    long = {what: lines for what, lines in long.items() if lines > LONGEST_LISTING}
    assert not long, f"{chapter.name}: listings of more than {LONGEST_LISTING} lines: {long}"


def test_a_long_listing_is_caught(tmp_path):
    (tmp_path / "chapter.md").write_text(
        "```{literalinclude} " + str(ROOT / "deepscratch/graph.py") + "\n:pyobject: Node\n```\n"
    )
    ((what, text),) = listings(tmp_path / "chapter.md")
    assert text.count("\n") > LONGEST_LISTING and "Node" in what
