"""The page leaves out a cell's closing ``# expect:`` block; the tests read it."""

from _ext.declared_outputs import declared_output, shown_source

CELL = "z = x + y\nprint(z)\n# expect:\n# [ 2. -1.]\n#   indented\n"


def test_the_declared_output_is_the_closing_comment_block():
    assert declared_output(CELL) == "[ 2. -1.]\n  indented"
    assert declared_output("print(1)\n# a comment, not a declaration\n") is None


def test_the_page_shows_the_cell_without_its_declared_output():
    assert shown_source(CELL) == "z = x + y\nprint(z)"
    assert shown_source("print(1)  # expect: is not a block here") == (
        "print(1)  # expect: is not a block here"
    )


def test_only_a_closing_block_counts():
    middle = "# expect:\n# 1\nprint(1)\n"
    assert declared_output(middle) is None and shown_source(middle) == middle.rstrip("\n")


def test_the_book_loads_the_extension():
    import yaml

    from conftest import ROOT

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "declared_outputs" in config["sphinx"]["config"]["extensions"]
    assert config["sphinx"]["local_extensions"]["declared_outputs"] == "_ext"
