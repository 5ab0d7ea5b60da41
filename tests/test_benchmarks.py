"""The benchmark's engines agree with each other, and its agreement check catches one that
does not (benchmarks/bench.py; no timing is asserted here)."""

import dataclasses
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
bench = importlib.import_module("bench")


@pytest.fixture
def short_w1():
    """The book's workload W1, trained for 20 steps instead of 1000."""
    return dataclasses.replace(bench.make_workloads()[0], steps=20)


def test_deepscratch_and_the_numpy_reference_agree(short_w1):
    _, loss, weights = bench.train(bench.DeepscratchMLP, short_w1)
    reference = bench.train(bench.NumpyMLP, short_w1)
    assert bench.relative_error((0, loss, weights), reference) <= bench.AGREEMENT
    assert loss == pytest.approx(reference[1], rel=1e-12)
    assert not np.allclose(weights[0], short_w1.weights[0])  # training did change the weights


def test_pytorch_agrees_with_the_numpy_reference(short_w1):
    pytest.importorskip("torch")
    TorchMLP = importlib.import_module("torch_reference").TorchMLP
    error = bench.relative_error(
        bench.train(TorchMLP, short_w1), bench.train(bench.NumpyMLP, short_w1)
    )
    assert error <= bench.AGREEMENT


def test_an_engine_that_disagrees_is_reported_wrong_and_not_timed(short_w1):
    class slightly_off(bench.NumpyMLP):
        def __init__(self, weights, X, c, learning_rate):
            super().__init__(weights, X, c, learning_rate * (1 + 1e-4))

    engines = {"numpy": bench.NumpyMLP, "deepscratch": bench.DeepscratchMLP, "off": slightly_off}
    bench.benchmark_workload(engines, short_w1, repeats=1)
    results = short_w1.results
    assert results["deepscratch"]["agrees"] and "median_s" in results["deepscratch"]
    assert not results["off"]["agrees"] and results["off"]["relative_error"] > bench.AGREEMENT
    assert "median_s" not in results["off"]


def test_every_workload_starts_from_finite_weights_and_one_hot_classes():
    for workload in bench.make_workloads():
        assert all(np.all(np.isfinite(w)) for w in workload.weights)
        assert np.array_equal(workload.c.sum(axis=1), np.ones(len(workload.X)))
