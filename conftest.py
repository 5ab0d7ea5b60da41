"""Plugins for the whole tree: the book's chapters run as tests (tests/chapter_cells.py), and
pytester lets tests/test_chapter_cells.py run that collector on broken copies of a chapter."""

pytest_plugins = ["chapter_cells", "pytester"]
