"""The benchmark's engines agree with each other, its reference is written as the rule says,
and its agreement check catches an engine that does not agree (benchmarks/bench.py; no timing
is asserted here)."""

import ast
import functools
import importlib
import inspect

import numpy as np
import pytest

bench = importlib.import_module("bench")
numpy_reference = importlib.import_module("numpy_reference")


@pytest.fixture(scope="module")
def workloads():
    return {workload.name: workload for workload in bench.make_workloads()}


@pytest.fixture
def short_w1(workloads):
    """The book's workload W1, trained for 20 steps instead of 1000."""
    return bench.first_steps(workloads["W1"], 20)


@pytest.fixture
def short_w4(workloads):
    """The digits workload W4 (ReLU, mean cross-entropy, Adam), for its first 20 batches."""
    return bench.first_steps(workloads["W4"], 20)


def torch_engines() -> dict:
    pytest.importorskip("torch")
    TorchMLP = importlib.import_module("torch_reference").TorchMLP
    return {f"torch {n}": functools.partial(TorchMLP, threads=n) for n in (1, 2)}


def assert_agrees(engine, workload) -> None:
    reference = bench.train(bench.NumpyMLP, workload)
    _, loss, weights = result = bench.train(engine, workload)
    assert bench.relative_error(result, reference) <= bench.AGREEMENT
    assert loss == pytest.approx(reference[1], rel=1e-9)
    assert not np.allclose(weights[0], workload.weights[0])  # training did change the weights


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_deepscratch_and_the_numpy_reference_agree(short_w1, optimize):
    assert_agrees(functools.partial(bench.DeepscratchMLP, optimize=optimize), short_w1)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_deepscratch_and_the_reference_agree_on_the_digits_with_adam(short_w4, optimize):
    assert_agrees(functools.partial(bench.DeepscratchMLP, optimize=optimize), short_w4)


def test_pytorch_agrees_with_the_numpy_reference(short_w1, short_w4):
    for engine in torch_engines().values():
        assert_agrees(engine, short_w1)
        assert_agrees(engine, short_w4)


def test_both_pytorch_engines_agree(short_w4):
    one, two = (bench.train(engine, short_w4) for engine in torch_engines().values())
    assert bench.relative_error(two, one) <= bench.AGREEMENT


def test_the_reference_sigmoid_is_the_plain_form():
    """The reference is the fastest plain numpy, not deepscratch's overflow-proof form: its
    code (its docstring tells the story) never calls ``logaddexp``."""
    tree = ast.parse(inspect.getsource(numpy_reference))
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert "exp" in names and "logaddexp" not in names
    a = np.array([-3.0, 0.0, 2.0])
    assert np.array_equal(numpy_reference.sigmoid(a.copy()), 1 / (1 + np.exp(-a)))


def test_an_engine_that_disagrees_is_reported_wrong_and_not_timed(short_w1):
    def slightly_off(weights, learning_rate, **options):
        return bench.NumpyMLP(weights, learning_rate * (1 + 1e-4), **options)

    engines = {"numpy": bench.NumpyMLP, "deepscratch": bench.DeepscratchMLP, "off": slightly_off}
    bench.benchmark_workload(engines, short_w1, repeats=1)
    results = short_w1.results
    assert results["deepscratch"]["agrees"] and "median_s" in results["deepscratch"]
    assert not results["off"]["agrees"] and results["off"]["relative_error"] > bench.AGREEMENT
    assert "median_s" not in results["off"]


def test_an_adam_with_another_beta_disagrees(short_w4):
    """The agreement check on W4 is sharp enough to notice Adam's beta2 moved a little."""
    off = functools.partial(bench.NumpyMLP, beta2=0.998)
    error = bench.relative_error(bench.train(off, short_w4), bench.train(bench.NumpyMLP, short_w4))
    assert error > bench.AGREEMENT


def test_every_workload_starts_from_finite_weights_and_one_hot_classes(workloads):
    for workload in workloads.values():
        assert all(np.all(np.isfinite(w)) for w in workload.weights)
        for X, c in workload.batches:
            assert len(X) == len(c) and np.all(np.isfinite(X))
            assert np.array_equal(c.sum(axis=1), np.ones(len(X)))


def test_the_digits_workload_is_the_chapters_training(workloads):
    w4 = workloads["W4"]
    assert (w4.hidden, w4.loss, w4.optimizer, w4.learning_rate) == ("relu", "mean", "adam", 0.003)
    assert w4.steps == 5 * 43  # 1348 training images in batches of 32: 42 of 32 and one of 4
    assert [len(X) for X, _ in w4.batches[:43]] == [32] * 42 + [4]
    assert [w.shape for w in w4.weights] == [(64, 64), (64,), (64, 10), (10,)]
