"""A cell's printed text on the page exactly as the cell printed it, whatever the timing.

The kernel sends what a cell prints in pieces cut by a timer, so one ``print`` can arrive as
``"loss: 0.5"`` and ``"\\n"`` in two messages, or in one, from one build to the next. myst-nb's
``nb_merge_streams`` joins the pieces, but strips each piece's trailing whitespace and adds a
newline, so the cut shows as a blank line that one build has and the next does not. Joining the
pieces as they are first makes the text the same whatever the cut; myst-nb's own merge then only
tidies the end and keeps stdout before stderr, as before.
"""

from __future__ import annotations

import copy

from myst_nb.core import render
from nbformat import NotebookNode

_myst_nb_merge = render.coalesce_streams


def join_streams(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Each stream's pieces concatenated unchanged into its first piece's place."""
    joined: list[NotebookNode] = []
    streams: dict[str, NotebookNode] = {}
    for output in outputs:
        if output["output_type"] != "stream":
            joined.append(output)
        elif output["name"] in streams:
            streams[output["name"]]["text"] += output["text"]
        else:
            streams[output["name"]] = copy.copy(output)
            joined.append(streams[output["name"]])
    return joined


def merge_streams(outputs: list[NotebookNode]) -> list[NotebookNode]:
    return _myst_nb_merge(join_streams(outputs))


def setup(app):
    render.coalesce_streams = merge_streams
    return {"parallel_read_safe": True, "parallel_write_safe": True}
