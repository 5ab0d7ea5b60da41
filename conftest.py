"""Plugins for the whole tree: the book's chapters run as tests (tests/book/chapter_cells.py),
and pytester lets tests/book/test_chapter_cells.py run that collector on broken copies of a
chapter. (The fixtures the tests share are in tests/conftest.py.)"""

pytest_plugins = ["chapter_cells", "pytester"]

# The PyTorch listing of chapter 8 needs PyTorch, an optional extra: tests/book/test_frameworks.py
# runs it when PyTorch is installed, instead of pytest importing it to look for doctests.
collect_ignore = ["book/frameworks"]
