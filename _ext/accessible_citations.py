"""Bibliography entries as list items, for screen readers.

docutils wraps a page's citations in an element of role "list" but gives each entry the
role "doc-biblioentry", which WAI-ARIA has deprecated: screen readers, and axe-core, then
find a list without items. This extension gives each entry the role "listitem" instead.
"""

from __future__ import annotations

from docutils.writers._html_base import HTMLTranslator


def _visit_citation(self: HTMLTranslator, node) -> None:
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def setup(app):
    HTMLTranslator.visit_citation = _visit_citation
    return {"parallel_read_safe": True, "parallel_write_safe": True}
