"""The README's example runs and prints what its comment says."""

import contextlib
import io
import re

from conftest import ROOT


def test_readme_example_prints_what_it_claims():
    readme = (ROOT / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    claimed = re.search(r"print\(.*\)\s*# (.*)", code).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})
    assert printed.getvalue().strip() == claimed
    quick_start = re.search(r"## Quick start.*?```\n(.*?)```", readme, re.DOTALL).group(1)
    assert quick_start.splitlines() == ["make book", "make test"]
