"""Declared outputs: checked by the tests, not shown on the page.

A code cell of a chapter may end with a comment block that says what the cell prints::

    print(session.run(z, feed_dict={x: [1, 2]}))
    # expect:
    # [ 2. -1.]

The chapter tests (tests/book/chapter_cells.py) compare the fresh output with it. The page shows the
output itself right below the code, so it leaves the block out: as a Sphinx extension, this
module makes myst-nb render every code cell's source without it. The notebook, and the source a
reader opens in Jupyter, keep it.
"""

from __future__ import annotations

import copy
import re

from myst_nb.core.render import MditRenderMixin

DECLARED_OUTPUT = re.compile(r"^# expect:[ \t]*\n((?:#.*(?:\n|$))*)\Z", re.MULTILINE)


def declared_output(source: str) -> str | None:
    """The text a cell's closing ``# expect:`` block declares, or None if it has none."""
    found = DECLARED_OUTPUT.search(source)
    if found is None:
        return None
    return "\n".join(re.sub(r"^# ?", "", row) for row in found.group(1).splitlines())


def shown_source(source: str) -> str:
    """A cell's source as the page shows it: without its closing ``# expect:`` block."""
    return DECLARED_OUTPUT.sub("", source).rstrip("\n")


_render_source = MditRenderMixin._render_nb_cell_code_source


def _render_shown_source(renderer: MditRenderMixin, token) -> None:
    shown = copy.copy(token)
    shown.token = copy.copy(token.token)
    shown.token.content = shown_source(token.token.content)
    _render_source(renderer, shown)


def setup(app):
    MditRenderMixin._render_nb_cell_code_source = _render_shown_source
    return {"parallel_read_safe": True, "parallel_write_safe": True}
