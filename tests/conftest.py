import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

# Figures are drawn off-screen in tests, as in the book's build.
matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_book() -> subprocess.CompletedProcess:
    """Build the site into _build/ exactly as `make book` does (unchanged chapters come from
    the execution cache). Tests that use it run in one xdist group, so it builds once."""
    return subprocess.run(
        [sys.executable, str(ROOT / "_ext" / "build_book.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
