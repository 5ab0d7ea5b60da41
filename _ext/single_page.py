"""The whole book as one HTML page (Sphinx's ``singlehtml`` builder), which ``make pdf`` prints.

Sphinx gives a builder's translator the node handlers registered for the builder's own name
and, only if there are none, those registered for its format. sphinx-exercise registers its
nodes for ``singlehtml`` by name, so every node that other extensions registered for ``html``
(myst-nb's folded code cells among them) would have no handler there. This copies them over.
"""

from __future__ import annotations


def _share_html_handlers(app) -> None:
    handlers = app.registry.translation_handlers
    if app.builder.name in handlers:
        for name, pair in handlers.get("html", {}).items():
            handlers[app.builder.name].setdefault(name, pair)


def setup(app):
    app.connect("builder-inited", _share_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
