"""Accessibility of a loaded page: its declared language, and axe-core's violations, of which the
serious and critical ones fail a test. The JavaScript each runs in the page is in js/."""

from __future__ import annotations

from browser import script

LANGUAGE_JS = script("language")
SAMPLE_CODE_STYLES_JS = script("sample_code_styles")
AXE_RUN_JS = script("axe_run")

AXE_OPTIONS = {
    "resultTypes": ["violations"],
    # axe's preload fetches @import-ed stylesheets resolved against the page instead of the
    # stylesheet (a request for /basic.css that 404s); nothing it checks needs them.
    "preload": False,
}
SERIOUS = ("serious", "critical")
CODE = ".highlight"


def language_problems(page) -> list[str]:
    lang = page.evaluate(LANGUAGE_JS)
    return [] if lang.strip() else ["the page does not set its language (<html lang=...>)"]


def axe_violations(page, code_styles: set[str] | None = None) -> list[dict]:
    """axe-core's violations on the loaded page, each with its impact.

    All of axe's rules run on the whole page, but for one shortcut. Colour contrast inside code
    blocks is where axe spends most of its time -- every highlighted token is an element --
    while all tokens take their colours from the same stylesheet. So the contrast of code text
    is checked on one element per distinct style (colour, background, font size and weight):
    the first met on the page, or in the session if the caller passes the same ``code_styles``
    set for every page."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(Axe().axe_script)
    code_styles = set() if code_styles is None else code_styles
    fresh = page.evaluate(SAMPLE_CODE_STYLES_JS, sorted(code_styles))
    code_styles.update(fresh)
    everything_else = {**AXE_OPTIONS, "rules": {"color-contrast": {"enabled": False}}}
    contrast = {**AXE_OPTIONS, "runOnly": {"type": "rule", "values": ["color-contrast"]}}
    # An include inside an exclude counts: the marked samples are checked, the rest of code not.
    sampled = {"include": [["html"], ["[data-axe-sample]"]], "exclude": [[CODE]]}
    runs = [({"include": [["html"]]}, everything_else), (sampled, contrast)]
    merged: dict[str, dict] = {}
    for context, options in runs:
        result = page.evaluate(AXE_RUN_JS, [context, options])
        for violation in result["violations"]:
            if violation["id"] in merged:
                merged[violation["id"]]["nodes"] += violation["nodes"]
            else:
                merged[violation["id"]] = violation
    return list(merged.values())


def describe_violation(violation: dict) -> str:
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
    more = len(violation["nodes"]) - 3
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}" + (
        f" and {more} more" if more > 0 else ""
    )


def accessibility_problems(violations: list[dict]) -> list[str]:
    return [describe_violation(v) for v in violations if v["impact"] in SERIOUS]
