"""Clean notebooks of the chapters, for the site's download button and for Colab.

The notebook myst-nb writes for a chapter is the chapter's raw MyST, without outputs: roles,
directives, glue and test machinery a reader cannot use. After the HTML build, this module writes
a notebook per page of _toc.yml with code cells that reads and runs anywhere:

- the outputs of the build's execution (from its cache), without glue records;
- no ``remove-cell`` cells and no ``# expect:`` blocks, and a first cell that installs
  deepscratch (and what else the chapter needs) when missing; ``hide-input`` cells folded;
- Markdown and LaTeX where the chapter has MyST. Numbers and titles (equations, exercises,
  sections, pages) are read from the built HTML, so the notebook shows what the site shows, and
  cross-references become links to the site.

Exercises become headings; a solution with code cells becomes a heading that JupyterLab opens
folded (``jp-MarkdownHeadingCollapsed``) over its cells, a solution of prose a ``<details>`` block.

The notebooks go to ``_build/html/_sources/book/`` (replacing the raw ones the download button
serves) and to ``_build/notebooks/book/`` (for the notebooks branch that Colab opens).
Usage: ``python tools/notebooks.py [--build DIR]`` (default ``_build``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import multiprocessing
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import nbformat
import yaml

from _ext.declared_outputs import shown_source
from tools.build_book import ROOT, build_lock, chapters, toc_pages

BUILD = ROOT / "_build"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SITE_URL = CONFIG["html"]["baseurl"]
GLUE_PREFIX = "application/papermill.record/"

# What a chapter's code calls -> (module, pip requirement) it needs besides deepscratch.
EXTRA_NEEDS = {"datasets.digits(": ("sklearn", "scikit-learn")}

SETUP = """\
# Setup: install what this notebook needs if missing, and draw sharp figures.
import importlib.util
import subprocess
import sys

for module, requirement in [
{needs}
]:
    if importlib.util.find_spec(module) is None:
        pip = [sys.executable, "-m", "pip", "install", "--quiet", requirement]
        subprocess.run(pip, check=True)
        importlib.invalidate_caches()
%config InlineBackend.figure_formats = ["retina"]"""

ROLE = re.compile(r"\{([a-z][\w:+-]*)\}`([^`]+)`")
# A fence: its backticks or colons, a directive's name and argument, or a code block's language.
FENCE = re.compile(r"^ {0,3}(`{3,}|:{3,})(?:\{([\w:-]+)\}[ \t]*(.*?)|([^`{]*?))\s*$")
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
TARGET = re.compile(r"^\(([^()\s]+)\)=\s*$")
MATH_END = re.compile(r"^(\s*)\$\$[ \t]*(?:\(([^()\s]+)\))?\s*$")
HEADING = re.compile(r"^(#{1,6})\s")

# Raw MyST that Jupyter would show as is: roles, directives, targets, labelled display maths,
# and the declared outputs of the chapter tests.
LEFTOVERS = [
    ROLE,
    re.compile(r"^ {0,3}(?:`{3,}|:{3,})\{.*$", re.M),
    re.compile(r"^\([^()\s]+\)=\s*$", re.M),
    re.compile(r"^\s*\$\$[ \t]*\([^()\s]+\)\s*$", re.M),
    re.compile(r"^# expect:.*$", re.M),
]


def leftover_myst(text: str) -> list[str]:
    """The raw MyST (and ``# expect:`` blocks) left in ``text``: each as the text found."""
    return [found.group(0) for pattern in LEFTOVERS for found in pattern.finditer(text)]


@dataclass
class Site:
    """What the notebooks quote from the built site and link to, all keyed by label."""

    url: str
    titles: dict[str, str] = field(default_factory=dict)  # page -> its title
    numbered: dict[str, str] = field(default_factory=dict)  # page -> "5. Backpropagation"
    sections: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (page, title)
    equations: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (page, "(5.3)")
    exercises: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (page, caption)
    anchors: dict[str, str] = field(default_factory=dict)  # any other id -> page
    # key -> (authors, year, URL), in the bibliography's order
    citations: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def link(self, page: str, anchor: str = "") -> str:
        return f"{self.url}{page}.html" + (f"#{anchor}" if anchor else "")

    def exercise(self, label: str) -> tuple[str, str]:
        return self.exercises[anchor_id(label)]

    @classmethod
    def read(cls, html: Path, pages: list[str], url: str = SITE_URL) -> Site:
        """The index of the site built in ``html``, over its ``pages`` (paths without .html).
        Parsing the pages is most of the notebooks' time, so they are parsed a core each."""
        with multiprocessing.Pool() as pool:
            parts = pool.starmap(cls._read_page, [(html, page, url) for page in pages])
        site = cls(url)
        labels: dict[str, str] = {}  # a bibliography's labels -> their ids
        for part, part_labels in parts:  # in the pages' order: where a label first appears
            site.titles |= part.titles
            site.numbered |= part.numbered
            site.sections |= part.sections | site.sections
            site.equations |= part.equations
            site.exercises |= part.exercises
            site.anchors |= part.anchors | site.anchors
            labels |= part_labels
        site.citations = _citations(labels)
        return site

    @classmethod
    def _read_page(cls, html: Path, page: str, url: str) -> tuple[Site, dict[str, str]]:
        """The index of one page, and the links of its bibliography's labels."""
        from bs4 import BeautifulSoup

        site = cls(url)
        labels: dict[str, str] = {}
        soup = BeautifulSoup((html / f"{page}.html").read_text(), "lxml")
        main = soup.find("main") or soup
        title = main.select_one("section > h1")  # not the theme's print-only header
        site.titles[page] = _text(title)
        site.numbered[page] = _text(title, numbered=True)
        for heading in main.find_all(re.compile(r"^h[1-6]$")):
            # A section's labels are the empty spans right before its heading.
            targets = [heading.parent]
            for before in heading.find_previous_siblings():
                if before.name != "span" or before.text:
                    break
                targets.append(before)
            for target in targets:
                if target.get("id"):
                    site.sections.setdefault(target["id"], (page, _text(heading)))
        for number in main.select("[id^=equation-] span.eqno"):
            label = number.find_parent(id=True)["id"].removeprefix("equation-")
            site.equations[label] = (page, _text(number))
        for exercise in main.select("div.exercise[id]"):
            caption = _text(exercise.find(class_="admonition-title"))
            site.exercises[exercise["id"]] = (page, caption)
        for element in main.find_all(id=True):
            site.anchors.setdefault(element["id"], page)
        for entry in main.select("div.citation[id]"):
            labels[_text(entry.find(class_="label")).strip("[]")] = site.link(page, entry["id"])
        return site, labels


def anchor_id(label: str) -> str:
    """The id the site gives a label: as docutils makes it, "eq-Conv" becomes "eq-conv"."""
    from docutils.nodes import make_id

    return make_id(label)


def _text(element, numbered: bool = False) -> str:
    """An element's text as the reader sees it, in Markdown: without # links (and section
    numbers, unless ``numbered``), code in backticks."""
    if element is None:
        return ""
    element = copy.copy(element)
    for hidden in element.select(".headerlink" if numbered else ".section-number, .headerlink"):
        hidden.decompose()
    for code in element.find_all("code"):
        code.replace_with(f"`{code.get_text()}`")
    return " ".join(element.get_text().split())


def _citations(links: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """Every entry of references.bib as (authors in Markdown, year, URL of its entry on the
    site): the authors as sphinxcontrib-bibtex's author_year style names them, the entry found
    by the label its (default, alpha) style gives it."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    from sphinxcontrib.bibtex.style.referencing import PersonStyle

    bibliography = parse_file(str(ROOT / "references.bib"))
    person = PersonStyle()
    names = person.names("author", full=False)
    style = find_plugin("pybtex.style.formatting", "alpha")()
    citations = {}
    for entry in style.format_entries(bibliography.entries.values()):
        data = {"entry": bibliography.entries[entry.key], "style": SimpleNamespace(person=person)}
        # Markdown's escaped full stop (et al\.) is needless after a word, and shows in a cell.
        authors = names.format_data(data).render_as("markdown").replace("\\.", ".")
        year = bibliography.entries[entry.key].fields["year"]
        citations[entry.key] = (authors, year, links.get(entry.label, ""))
    return citations


@dataclass
class Page:
    """One page being converted: where it is, its glued values, the heading it is under."""

    name: str  # e.g. book/05_backpropagation
    site: Site
    glue: dict[str, str] = field(default_factory=dict)  # glued name -> its text/plain
    level: int = 1  # of the last heading met

    def link(self, text: str, page: str, anchor: str = "") -> str:
        return f"[{text}]({self.site.link(page, anchor)})"

    def role(self, name: str, content: str) -> str | None:
        """The Markdown for a role, or None for a role it does not know."""
        text, target = content, content
        explicit = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content, re.S)
        if explicit and name in ("doc", "ref", "numref"):
            text, target = explicit.groups()
        site = self.site
        if name == "glue:text":
            from myst_nb.core.variables import format_plain_text

            key, _, spec = content.rpartition(":") if ":" in content else (content, "", "s")
            return format_plain_text(self.glue[key], spec)
        if name in ("glue", "glue:", "glue:any"):
            return self.glue[content]
        if name == "doc":
            page = posixpath.normpath(posixpath.join(posixpath.dirname(self.name), target))
            if target.startswith("/"):
                page = target.lstrip("/")
            return self.link(site.titles[page] if text == target else text, page)
        if name in ("ref", "numref"):
            anchor = anchor_id(target)
            page, title = site.sections.get(anchor) or site.exercise(target)
            return self.link(title if text == target else text, page, anchor)
        if name == "eq":
            page, number = site.equations[anchor_id(target)]
            return self.link(number, page, f"equation-{anchor_id(target)}")
        if name == "math":
            return f"${content}$"
        if name.startswith("py:"):
            shown = content.lstrip("~").rsplit(".", 1)[-1] if content[0] == "~" else content
            shown += "()" if name in ("py:func", "py:meth") else ""
            target = content.lstrip("~")
            return self.link(f"`{shown}`", site.anchors[target], target)
        if name in ("cite:p", "cite:t"):
            # In the bibliography's order, as the site lists them.
            cited = [site.citations[key.strip()] for key in content.split(",")]
            cited.sort(key=list(site.citations.values()).index)
            if name == "cite:p":
                return "[" + ", ".join(f"[{who}, {year}]({url})" for who, year, url in cited) + "]"
            return ", ".join(f"{who} [[{year}]({url})]" for who, year, url in cited)
        return None

    def inline(self, text: str) -> str:
        def replace(found: re.Match) -> str:
            try:
                converted = self.role(found[1], found[2])
            except KeyError as error:
                raise ValueError(f"{self.name}: {found[0]}: no {error} on the site") from None
            return found[0] if converted is None else converted

        return ROLE.sub(replace, text)


@dataclass
class OwnCell:
    """A Markdown cell of its own, with metadata, cut out of a chapter's Markdown cell."""

    source: str
    metadata: dict


def convert_markdown(text: str, page: Page, source: Path) -> list[str | OwnCell]:
    """A Markdown cell of a chapter as plain Markdown and LaTeX: text, and any cells of its own
    (``source`` is the chapter's file, for the paths of its listings)."""
    lines = text.split("\n")
    out: list[str | OwnCell] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(page.inline("\n".join(paragraph)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence and fence[2] is None and fence[1][0] == "`":  # plain code: as it is
            end = _closing(lines, i, fence[1])
            flush()
            out.append("\n".join(lines[i : end + 1]))
            i = end + 1
        elif fence and fence[2]:
            end = _closing(lines, i, fence[1])
            options, body = {}, i + 1
            while body < end and OPTION.match(lines[body]):
                key, value = OPTION.match(lines[body]).groups()
                options[key] = value
                body += 1
            flush()
            inner = "\n".join(lines[body:end]).strip("\n")
            converted = _directive(fence[2], fence[3].strip(), options, inner, page, source)
            out += ["\n".join(lines[i : end + 1])] if converted is None else converted
            i = end + 1
        elif TARGET.match(line):
            i += 1
        elif line.strip() == "$$" and any(row.lstrip().startswith("$$") for row in lines[i + 1 :]):
            # Display maths: with a label, it gets the site's number as its tag.
            end = next(j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("$$"))
            closing = MATH_END.match(lines[end])
            if closing is None:
                raise ValueError(f"{page.name}: display maths closed by {lines[end]!r}")
            indent, label = closing.groups()
            flush()
            number = page.site.equations[anchor_id(label)][1].strip("()") if label else ""
            tag = [rf"{indent}\tag{{{number}}}"] if label else []
            out.append("\n".join([*lines[i:end], *tag, f"{indent}$$"]))
            i = end + 1
        else:
            heading = HEADING.match(line)
            if heading:
                page.level = len(heading[1])
            paragraph.append(line)
            i += 1
    flush()
    parts = [part.strip("\n") if isinstance(part, str) else part for part in out]
    return [part for part in parts if part != ""]


def _closing(lines: list[str], start: int, fence: str) -> int:
    """The line that closes the fence opened at ``start``."""
    depth, i = 1, start + 1
    while i < len(lines):
        found = FENCE.match(lines[i])
        bare = found is not None and found[2] is None and not found[4]
        if found and found[1][0] == "`" and fence[0] == ":":
            i = _closing(lines, i, found[1])  # a code block inside a directive: its lines are code
        elif found and found[1][0] == fence[0] == "`":
            if bare and len(found[1]) >= len(fence):
                return i
        elif found and not bare:
            depth += 1  # a directive inside a directive
        elif bare and (len(found[1]) >= len(fence) or depth > 1):
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed {lines[start]!r}")


def _directive(name, argument, options, body, page, source) -> list[str | OwnCell] | None:
    """A directive as Markdown, or None for one it does not know."""
    site = page.site
    if name == "literalinclude":
        from sphinx.config import Config
        from sphinx.directives.code import LiteralIncludeReader

        path = source.parent / argument
        text, _ = LiteralIncludeReader(str(path), options, Config()).read()
        language = options.get("language", {".py": "python"}.get(path.suffix, ""))
        return [f"```{language}\n{text.rstrip()}\n```"]
    if name == "admonition":
        inner = _joined(convert_markdown(body, page, source))
        quoted = "\n".join(f"> {row}".rstrip() for row in inner.split("\n"))
        return [f"> **{page.inline(argument)}**\n>\n{quoted}"]
    if name == "exercise":
        caption = site.exercise(options["label"])[1]
        heading = f"{'#' * min(page.level + 1, 6)} {caption}"
        return [heading, *convert_markdown(body, page, source)]
    if name == "solution-start":
        # Its cells follow, up to solution-end: a heading over them, folded in JupyterLab.
        heading = f"{'#' * min(page.level + 2, 6)} Solution to {site.exercise(argument)[1]}"
        return [OwnCell(heading, {"jp-MarkdownHeadingCollapsed": True})]
    if name == "solution-end":
        return []
    if name == "solution":
        summary = f"<summary>Solution to {site.exercise(argument)[1]}</summary>"
        inner = _joined(convert_markdown(body, page, source))
        return [f"<details>\n{summary}\n\n{inner}\n\n</details>"]
    if name == "bibliography":
        references = next(url for _, _, url in site.citations.values() if url).split("#")[0]
        return [f"The works cited are listed on the site's [references]({references})."]
    if name in ("contents", "tableofcontents"):
        return []  # Jupyter and Colab show a table of contents of their own
    if name == "eval-rst":
        return [f"*This part of the page is shown on [the site]({site.link(page.name)}).*"]
    return None


def _joined(parts: list[str | OwnCell]) -> str:
    if any(isinstance(part, OwnCell) for part in parts):
        raise ValueError("a solution's heading inside another block")
    return "\n\n".join(part for part in parts if part.strip())


def _myst_notebook(source: Path) -> dict:
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(source.read_text(), path=str(source))


def fresh_build_outputs(
    source: Path, build: Path = BUILD, library: Path = ROOT / "deepscratch"
) -> list[list] | None:
    """The outputs of each code cell of the chapter at ``source`` as the build ran it, if the
    build's execution cache holds a run of its current code made after the ``library`` last
    changed and no build is under way; otherwise None."""
    cache_path = build / ".jupyter_cache"
    if not cache_path.is_dir():
        return None
    from jupyter_cache import get_cache

    notebook = _myst_notebook(source)
    library_changed = max(path.stat().st_mtime for path in library.glob("*.py"))
    with build_lock(build, exclusive=False) as readable:
        if not readable:
            return None
        cache = get_cache(str(cache_path))
        try:
            record = cache.match_cache_notebook(notebook)
        except KeyError:
            return None
        if record.created.replace(tzinfo=datetime.timezone.utc).timestamp() < library_changed:
            return None
        executed = cache.merge_match_into_notebook(notebook)[1]
    return [cell.outputs for cell in executed.cells if cell.cell_type == "code"]


def executed_notebook(page: str, build: Path = BUILD) -> dict | None:
    """The executed notebook the build rendered ``page`` from, or None if there is none.

    Like myst-nb, this takes the outputs from the build's execution cache. The copies myst-nb
    writes to _build/jupyter_execute/ are only the fallback: when a chapter comes from the cache,
    they are written without outputs."""
    source = ROOT / f"{page}.ipynb"
    if source.exists():
        notebook = json.loads(source.read_text())
    else:
        notebook = _myst_notebook(ROOT / f"{page}.md")
    if not any(cell["cell_type"] == "code" for cell in notebook["cells"]):
        return notebook
    cache = build / ".jupyter_cache"
    if cache.is_dir():
        from jupyter_cache import get_cache

        with contextlib.suppress(KeyError):
            return get_cache(str(cache)).merge_match_into_notebook(notebook)[1]
    written = build / "jupyter_execute" / f"{page}.ipynb"
    return json.loads(written.read_text()) if written.exists() else None


def glued(notebook: dict) -> dict[str, str]:
    """The values a notebook glued, by name, as their text/plain."""
    values = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                values[name] = output["data"][f"{GLUE_PREFIX}text/plain"]
    return values


def shown_outputs(outputs: list[dict]) -> list[dict]:
    """A cell's outputs without glue records, and without what is empty once they are gone.
    Printed text comes as one output per stream, as on the page: how the kernel split it into
    pieces depends on timing, and would make two builds' notebooks differ."""
    kept: list[dict] = []
    for output in outputs:
        output = copy.deepcopy(dict(output))
        if output["output_type"] == "stream":
            text = "".join(output["text"])
            previous = kept[-1] if kept else {}
            if previous.get("output_type") == "stream" and previous["name"] == output["name"]:
                previous["text"] += text
                continue
            output["text"] = text
        if "data" in output:
            output["data"] = {k: v for k, v in output["data"].items() if GLUE_PREFIX not in k}
            output["metadata"] = {
                k: v for k, v in output.get("metadata", {}).items() if k in output["data"]
            }
            if not output["data"]:
                continue
        kept.append(output)
    return kept


def clean_notebook(page: str, site: Site, build: Path = BUILD) -> nbformat.NotebookNode:
    """The clean notebook of one page (see the module's docstring)."""
    executed = executed_notebook(page, build)
    if executed is None:
        raise FileNotFoundError(f"{page} has no executed notebook in {build}")
    converting = Page(page, site, glued(executed))
    cells: list[nbformat.NotebookNode] = []
    count = 0
    for cell in executed["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown":
            for part in convert_markdown(cell["source"], converting, ROOT / f"{page}.md"):
                if isinstance(part, OwnCell):
                    cells.append(nbformat.v4.new_markdown_cell(part.source, metadata=part.metadata))
                elif not part.strip():
                    continue
                elif cells and cells[-1].cell_type == "markdown" and not cells[-1].metadata:
                    # One cell for the parts of a cell, and for cells apart by a removed cell.
                    cells[-1].source += f"\n\n{part}"
                else:
                    cells.append(nbformat.v4.new_markdown_cell(part))
        elif cell["cell_type"] == "code" and "remove-cell" not in tags:
            count += 1
            outputs = shown_outputs(cell.get("outputs", []))
            for output in outputs:
                if output["output_type"] == "execute_result":
                    output["execution_count"] = count
            code = nbformat.v4.new_code_cell(shown_source(cell["source"]), execution_count=count)
            code.outputs = [nbformat.from_dict(output) for output in outputs]
            code.metadata = {"tags": tags} if tags else {}
            if "hide-input" in tags:  # folded in JupyterLab, as on the site
                code.metadata["jupyter"] = {"source_hidden": True}
            cells.append(code)

    needs = [("deepscratch", f"deepscratch @ git+{CONFIG['repository']['url']}")]
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    needs += [need for called, need in EXTRA_NEEDS.items() if called in code]
    # The page's title first, then what this notebook is and the setup.
    head = []
    if cells[0].cell_type == "markdown" and cells[0].source.startswith("# "):
        _, _, rest = cells[0].source.partition("\n")
        cells[0].source = rest.lstrip("\n")
        head.append(nbformat.v4.new_markdown_cell(f"# {site.numbered[page]}"))
    chapter = Page(page, site).link(site.titles[page], page)
    book = f"[{CONFIG['title']}]({site.url})"
    solutions = (
        " Each exercise's solution follows it, under a heading that JupyterLab shows folded."
        if any(exercise_page == page for exercise_page, _ in site.exercises.values())
        else ""
    )
    head += [
        nbformat.v4.new_markdown_cell(
            f"*This notebook is generated from {chapter}, a page of the online book {book}; "
            f"its links lead to the book's site.{solutions}*"
        ),
        nbformat.v4.new_code_cell(
            SETUP.format(needs="\n".join(f'    ("{module}", "{pip}"),' for module, pip in needs))
        ),
    ]
    cells = head + [
        piece
        for cell in cells
        for piece in split_at_headings(cell)
        if piece.source.strip() or piece.cell_type == "code"
    ]
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # stable, so that the same chapter gives the same file
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    nbformat.validate(notebook)
    return notebook


def split_at_headings(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """A Markdown cell cut before each heading that follows text: JupyterLab folds a section
    (a solution, say) up to the next cell with a heading, and takes a cell's heading from
    anywhere in it, so the text before a heading would fall outside its section's fold."""
    if cell.cell_type != "markdown":
        return [cell]
    pieces: list[list[str]] = [[]]
    fence = ""
    for line in cell.source.split("\n"):
        opening = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if opening and (not fence or opening[1].startswith(fence)):
            fence = "" if fence else opening[1]
        elif not fence and HEADING.match(line) and any(row.strip() for row in pieces[-1]):
            pieces.append([])
        pieces[-1].append(line)
    cells = [nbformat.v4.new_markdown_cell("\n".join(rows).strip("\n")) for rows in pieces]
    cells[0].metadata = cell.metadata
    return cells


def write_notebooks(build: Path = BUILD) -> list[Path]:
    """Write the clean notebook of every page with code cells to ``build``'s html/_sources/
    and notebooks/ folders; returns the paths written. Raises ValueError, after writing, if any
    notebook has raw MyST left."""
    site = Site.read(build / "html", toc_pages())
    shutil.rmtree(build / "notebooks", ignore_errors=True)  # no notebook of a page now gone
    written, leftovers = [], []
    pages = [chapter.relative_to(ROOT).with_suffix("").as_posix() for chapter in chapters()]
    with multiprocessing.Pool() as pool:  # a chapter per core
        notebooks = pool.starmap(clean_notebook, [(page, site, build) for page in pages])
    for page, notebook in zip(pages, notebooks, strict=True):
        text = nbformat.writes(notebook).rstrip("\n") + "\n"
        for folder in (build / "html" / "_sources", build / "notebooks"):
            path = folder / f"{page}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
        leftovers += [
            f"{page}: {found}" for c in notebook.cells for found in leftover_myst(c.source)
        ]
    if leftovers:
        raise ValueError("raw MyST left in the notebooks:\n" + "\n".join(leftovers))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=BUILD, help="the build folder (_build)")
    written = write_notebooks(parser.parse_args().build.resolve())
    print(f"{len(written)} notebooks written: {written[0].parent} and {written[1].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
