"""The doctest-style comparison of declared and actual cell outputs."""

import pytest
from chapter_cells import output_matches


@pytest.mark.parametrize(
    ("declared", "actual"),
    [
        ("[ 2. -1.]", "[ 2. -1.]\n"),
        ("0.9933", "0.9933071490757153"),
        ("loss 12.3", "loss   12.31\n"),
        ("[[0.99 0.01]\n [0.97 0.03]]", "[[0.98901 0.01099]\n [0.96562 0.03438]]"),
        ("step 0: ...\nstep 900: 0.76", "step 0: 69.6\nstep 100: 33.1\nstep 900: 0.7607"),
        ("accuracy 100%", "accuracy 100%"),
        ("1e-05", "1.0000001e-05"),
    ],
)
def test_matches(declared, actual):
    assert output_matches(declared, actual)


@pytest.mark.parametrize(
    ("declared", "actual"),
    [
        ("[ 2. -1.]", "[ 2. -2.]"),
        ("0.9933", "0.9934"),
        ("loss 12.3", "cost 12.3"),
        ("a\nb", "a"),
        ("step 0: ...\nstep 900: 0.76", "step 0: 69.6\nstep 900: 0.81"),
    ],
)
def test_mismatches(declared, actual):
    assert not output_matches(declared, actual)
