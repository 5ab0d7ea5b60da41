"""A cell's printed text reaches the page the same however the kernel cut it into messages."""

from jupyter_book.config import get_final_config
from nbformat.v4 import new_output

from _ext.exact_streams import merge_streams
from conftest import ROOT

WHOLE = ["backpropagation:   108.622571\nfinite difference: 108.622571\n"]
CUTS = [
    ["backpropagation:   108.622571", "\nfinite difference: 108.622571\n"],
    ["backpropagation:   108.622571\n", "finite difference: 108.622571", "\n"],
    ["back", "propagation:   108.622571\nfinite difference: 108.622571\n"],
]


def stdout(pieces):
    return [new_output("stream", name="stdout", text=piece) for piece in pieces]


def test_every_cut_of_the_printed_text_makes_the_same_output():
    (expected,) = merge_streams(stdout(WHOLE))
    assert expected["text"] == WHOLE[0]
    for pieces in CUTS:
        merged = merge_streams(stdout(pieces))
        assert [output["text"] for output in merged] == [expected["text"]], pieces


def test_a_figure_between_prints_keeps_its_place_and_stderr_its_own_block():
    figure = new_output("display_data", data={"text/plain": "<Figure>"})
    outputs = [*stdout(["a", "\n"]), figure, *stdout(["b\n"])]
    outputs.append(new_output("stream", name="stderr", text="warning\n"))
    merged = merge_streams(outputs)
    assert [output["output_type"] for output in merged] == ["stream", "display_data", "stream"]
    assert merged[0]["text"] == "a\nb\n"
    assert merged[2]["name"] == "stderr"


def test_the_notebook_outputs_are_not_changed():
    outputs = stdout(["a", "\n"])
    merge_streams(outputs)
    assert [output["text"] for output in outputs] == ["a", "\n"]


def test_the_book_build_loads_the_extension():
    config, _ = get_final_config(
        user_yaml=ROOT / "_config.yml",
        cli_config={"latex_individualpages": False},
        sourcedir=ROOT,
    )
    assert "exact_streams" in config["extensions"]
    assert config["nb_merge_streams"] is True
