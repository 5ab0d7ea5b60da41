"""Chromium on a closed network, and a loopback web server: what the browser tests and
``make pdf`` share.

- ``serve(folder)`` serves a folder over HTTP on a free loopback port.
- ``find_chromium()`` finds Debian's Chromium (or $CHROMIUM); ``CHROMIUM_ARGS`` start it so
  that nothing leaves the machine.
- ``READY_JS`` waits until a page is ready to read or print.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

# Chromium as root needs --no-sandbox; the others keep it from calling home on a closed network.
# The resolver rule makes every host name fail at once: a request to another host is still
# seen (and reported) by the tests, but nothing ever leaves the machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"]


# --- serving ---------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on a free loopback port; yields its base URL (ending in ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the browser -----------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Chromium from $CHROMIUM, or Debian's, or one on the PATH."""
    for candidate in [os.environ.get("CHROMIUM"), *CHROMIUM_CANDIDATES]:
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


# Wait until a page is ready to read: every image decoded (lazy ones too), every formula
# typeset, the fonts loaded. Bounded, so that a page that never settles fails instead of hanging.
# The longest a page may take to load, then to be ready to read (READY_JS then gives
# "timeout"), or the site's search to answer, before a test reports it instead of waiting on.
# Generous, since it only bounds a failure: on a two-core machine busy with the rest of the
# tests, the whole book on one page has taken over 30 s just to load.
SETTLE_SECONDS = 120
READY_JS = """async () => {
  const settle = (async () => {
    for (const img of document.images) img.loading = "eager";
    await Promise.all([...document.images].map((img) => img.complete ? null :
      new Promise((done) => {
        img.addEventListener("load", done, {once: true});
        img.addEventListener("error", done, {once: true});
      })));
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await MathJax.startup.promise;
    }
    await document.fonts.ready;
  })();
  const timeout = new Promise((done) => setTimeout(() => done("timeout"), SETTLE_MS));
  return await Promise.race([settle.then(() => "ready"), timeout]);
}""".replace("SETTLE_MS", str(SETTLE_SECONDS * 1000))
