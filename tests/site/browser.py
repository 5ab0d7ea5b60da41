"""Debian's Chromium driven through Playwright, as the site tests use it.

- ``Browser``: one Chromium and one context for the whole test session.
- ``Tab.visit(url)`` loads a page, waits until it is ready to read (images decoded, formulas
  typeset, fonts loaded, no request in flight) and records every request, failed request and
  console error on the way, in a ``Visit``.
- ``script(name)``: the JavaScript program ``js/<name>.js``, for ``page.evaluate``.
- ``require_browser()`` skips a test where the browser cannot run, or fails it under CI.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools import chromium
from tools.chromium import CHROMIUM_ARGS, READY_JS, SETTLE_SECONDS, find_chromium

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# How long requests a page starts after it is ready (fonts, MathJax's pieces) may take to end.
LATE_REQUEST_SECONDS = 5

JS = Path(__file__).with_name("js")


def script(name: str) -> str:
    """The JavaScript program in js/<name>.js: one function expression for ``page.evaluate``."""
    return (JS / f"{name}.js").read_text()


PAGE_SIZE_JS = script("page_size")


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed (pip install -e '.[test]')"
    if find_chromium() is None:
        return (
            "no Chromium found (looked at $CHROMIUM, "
            + ", ".join(chromium.CHROMIUM_CANDIDATES)
            + "): install Debian's 'chromium' package or set CHROMIUM=/path/to/chromium"
        )
    return None


def require_browser() -> None:
    """Skip the calling test where the browser tests cannot run, saying why; under CI (``CI``
    set), fail it instead: there they must run."""
    import pytest

    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run under CI, but {reason}")
    pytest.skip(reason)


@dataclass
class Visit:
    """What happened while one page loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


class Tab:
    """One tab of the shared browser context, recording what each visit requests."""

    def __init__(self, page):
        self.page = page
        self._cdp = None
        self.current = Visit(url="about:blank")
        # Requests are keyed by the object itself, which also keeps it alive.
        self._owner: dict[object, Visit] = {}
        self._in_flight: set[object] = set()
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_pageerror)

    def _on_request(self, request):
        self._owner[request] = self.current
        self._in_flight.add(request)
        self.current.requests.append(request.url)

    def _on_finished(self, request):
        self._in_flight.discard(request)

    def _on_failed(self, request):
        self._in_flight.discard(request)
        visit = self._owner.get(request, self.current)
        failure = request.failure or "failed"
        if visit is not self.current and "ERR_ABORTED" in failure:
            return  # cut off by our own navigation to the next page
        visit.failed.append(f"{request.url} ({failure})")

    def _on_response(self, response):
        if response.status >= 400:
            visit = self._owner.get(response.request, self.current)
            visit.failed.append(f"{response.url} (HTTP {response.status})")

    def _on_console(self, message):
        if message.type != "error":
            return
        source = message.location.get("url", "")
        where = f" ({source})" if source and source != self.current.url else ""
        self.current.console_errors.append(f"console.error: {message.text}{where}")

    def _on_pageerror(self, error):
        self.current.console_errors.append(f"uncaught: {error}")

    def visit(self, url: str, viewport: dict = DESKTOP) -> Visit:
        self.current = Visit(url=url)
        self._in_flight.clear()
        self.page.set_viewport_size(viewport)
        self.page.goto(url, wait_until="load")
        if self.page.evaluate(READY_JS) != "ready":
            unsettled = f"the page did not settle within {SETTLE_SECONDS} s"
            self.current.console_errors.append(unsettled)
        # Requests started late (fonts, MathJax's pieces) belong to this page too.
        deadline = time.monotonic() + LATE_REQUEST_SECONDS
        while self._in_flight and time.monotonic() < deadline:
            self.page.wait_for_timeout(10)
        return self.current

    def page_width(self, viewport: dict, screenshot: Path | None = None) -> int:
        """The page's width at the given viewport, and a full-page JPEG of it to ``screenshot``
        if given. Taken through Chromium's own protocol: a quarter faster than Playwright's
        full-page screenshot, and JPEG a third faster than PNG, which for pages many screens
        long adds up; plenty for review."""
        self.page.set_viewport_size(viewport)
        width, height = self.page.evaluate(PAGE_SIZE_JS)
        if screenshot is None:
            return width
        if self._cdp is None:
            self._cdp = self.page.context.new_cdp_session(self.page)
        shot = self._cdp.send(
            "Page.captureScreenshot",
            {
                "format": "jpeg",
                "quality": 85,
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return width


class Browser:
    """One Chromium and one context for the whole test session."""

    def __init__(self):
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=find_chromium(), args=CHROMIUM_ARGS
            )
            self.context = self.browser.new_context(viewport=DESKTOP)
            self.context.set_default_navigation_timeout(SETTLE_SECONDS * 1000)
        except Exception:
            self._playwright.stop()
            raise

    def new_tab(self) -> Tab:
        return Tab(self.context.new_page())

    def close(self) -> None:
        self.context.close()
        self.browser.close()
        self._playwright.stop()
