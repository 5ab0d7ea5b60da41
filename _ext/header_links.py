"""Two entries the theme's header menus lack: Colab in the launch menu, the whole book as a PDF in
the download menu.

Colab opens notebooks from GitHub, and cannot read a chapter's MyST Markdown: its entry points
at the chapter's clean notebook (tools/notebooks.py) on the repository's ``notebooks`` branch,
which the publishing workflow (.github/workflows/book.yml) fills with _build/notebooks/. The PDF
is the one ``make pdf`` prints and the workflow publishes beside the site, at its root.
"""

from __future__ import annotations

from typing import Any

COLAB = "https://colab.research.google.com/github"
NOTEBOOKS_BRANCH = "notebooks"
PDF_NAME = "deep-learning-from-scratch.pdf"


def colab_url(repository_url: str, pagename: str) -> str:
    """Where Colab opens ``pagename``'s notebook, for a repository on GitHub."""
    owner, name = repository_url.rstrip("/").removesuffix(".git").split("/")[-2:]
    return f"{COLAB}/{owner}/{name}/blob/{NOTEBOOKS_BRANCH}/{pagename}.ipynb"


def _add_entries(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    theme_options = app.config.html_theme_options
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].append(
                {
                    "type": "link",
                    "text": "Colab",
                    "tooltip": "Open this chapter's notebook in Google Colab",
                    "icon": "_static/images/logo_colab.png",
                    "url": colab_url(theme_options["repository_url"], pagename),
                }
            )
        elif group.get("label") == "download-buttons" and app.config.html_baseurl:
            group["buttons"].append(
                {
                    "type": "link",
                    "text": "book .pdf",
                    "tooltip": "Download the whole book as a PDF",
                    "icon": "fas fa-book",
                    "url": app.config.html_baseurl.rstrip("/") + "/" + PDF_NAME,
                }
            )


def setup(app):
    # After the theme's own handler (priority 501) has made the menus.
    app.connect("html-page-context", _add_entries, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
