"""Every link and anchor of a folder of HTML, checked without a browser and without a network.

``check_links(folder)`` resolves each internal link (and its #anchor) to a file (and an element)
of the folder, lists external links without fetching them, and notes anything a page embeds
(scripts, stylesheets, images, frames) from another host. ``write_external_report`` writes the
external links, with the pages that link them, for review.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Attributes that refer to another file: (tag, attribute) -> whether it is embedded in the page
# (loaded with it) rather than followed by the reader.
REFERENCES = {
    ("a", "href"): False,
    ("area", "href"): False,
    ("form", "action"): False,
    ("link", "href"): None,  # decided by rel
    ("script", "src"): True,
    ("img", "src"): True,
    ("iframe", "src"): True,
    ("source", "src"): True,
    ("video", "src"): True,
    ("video", "poster"): True,
    ("audio", "src"): True,
    ("embed", "src"): True,
    ("object", "data"): True,
}
EMBEDDING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "prefetch"}


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, bool]] = []  # (url, embedded)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(name):
                self.ids.add(attributes[name])
        for (ref_tag, attribute), embedded in REFERENCES.items():
            if tag != ref_tag or attributes.get(attribute) is None:
                continue
            if embedded is None:
                rels = set((attributes.get("rel") or "").lower().split())
                embedded = bool(rels & EMBEDDING_RELS)
            self.refs.append((attributes[attribute], embedded))


@dataclass
class LinkReport:
    broken: list[str] = field(default_factory=list)  # "page: url (why)"
    external: dict[str, set[str]] = field(default_factory=dict)  # url -> pages linking it
    embedded_external: list[str] = field(default_factory=list)  # "page: url"
    checked: int = 0


def html_pages(folder: Path) -> list[Path]:
    """The site's pages: every .html file except the theme's templates under _static/."""
    return sorted(
        path
        for path in folder.rglob("*.html")
        if not any(part.startswith(("_static", ".")) for part in path.relative_to(folder).parts)
    )


def check_links(folder: Path) -> LinkReport:
    """Every link and anchor of every page of ``folder``: internal ones must resolve, external
    ones are listed (never fetched), and nothing embedded in a page may come from another host."""
    report = LinkReport()
    parsed: dict[Path, _Refs] = {}

    def parse(path: Path) -> _Refs:
        if path not in parsed:
            parser = _Refs()
            parser.feed(path.read_text(errors="replace"))
            parsed[path] = parser
        return parsed[path]

    for page in html_pages(folder):
        name = page.relative_to(folder).as_posix()
        for url, embedded in parse(page).refs:
            report.checked += 1
            parts = urlsplit(url.strip())
            if parts.scheme in ("javascript", "data"):
                continue
            if parts.scheme or parts.netloc:
                report.external.setdefault(url.strip(), set()).add(name)
                if embedded:
                    report.embedded_external.append(f"{name}: {url}")
                continue
            if parts.path:
                target_name = posixpath.normpath(
                    posixpath.join(posixpath.dirname(name), unquote(parts.path))
                )
                if target_name == ".." or target_name.startswith("../"):
                    report.broken.append(f"{name}: {url} (outside the site)")
                    continue
                target = folder / target_name
            else:
                target = page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                report.broken.append(f"{name}: {url} (no such file)")
                continue
            anchor = unquote(parts.fragment)
            if anchor and target.suffix == ".html" and anchor not in parse(target).ids:
                report.broken.append(f"{name}: {url} (no anchor #{anchor})")
    return report


def write_external_report(report: LinkReport, path: Path) -> None:
    """The external links of ``report``, one a line with the pages that link them."""
    lines = [
        "# External links of the built site, with the pages that link them.",
        "# Listed for review, not fetched: the tests run without a network.",
    ]
    for url in sorted(report.external):
        lines.append(f"{url}\t{', '.join(sorted(report.external[url]))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
