"""The operations, optimizers and data helpers added for the chapters beyond the text."""

import importlib.machinery
import importlib.util

import numpy as np
import pytest
from gradcheck import check_gradients

import deepscratch as ds
from deepscratch.train import AdamOptimizer, GradientDescentOptimizer, MomentumOptimizer

rng = np.random.default_rng(7)
A = rng.standard_normal((4, 3))
ONE_HOT = np.eye(3)[[0, 2, 1, 2]]


@pytest.mark.parametrize(
    "case",
    [
        (ds.relu, A + 0.05 * np.sign(A)),  # away from the kink at 0
        (ds.tanh, A),
        (ds.reduce_mean, A),
        (lambda x: ds.reduce_mean(x, axis=0), A),
        (lambda x: ds.reduce_mean(x, axis=-1), A),
        (ds.softmax_cross_entropy, A, ONE_HOT),
        (ds.softmax_cross_entropy, A, np.full((4, 3), 1 / 3)),
    ],
    ids=["relu", "tanh", "mean", "mean axis 0", "mean axis -1", "xent", "xent soft targets"],
)
def test_gradients_match_finite_differences(case):
    op, *inputs = case
    check_gradients(op, *inputs)


def test_fused_cross_entropy_equals_the_composed_one_and_stays_finite():
    with ds.Graph().as_default():
        logits, c = ds.constant(A), ds.constant(ONE_HOT)
        composed = ds.negative(ds.reduce_sum(ds.multiply(c, ds.log(ds.softmax(logits))), axis=1))
        session = ds.Session()
        fused = session.run(ds.softmax_cross_entropy(logits, c))
        assert fused.shape == (4,) and fused == pytest.approx(session.run(composed))
        extreme = ds.softmax_cross_entropy(ds.constant([[1000.0, -1000.0]]), ds.constant([[0, 1]]))
        assert session.run(extreme) == pytest.approx([2000.0])
        one_point = ds.softmax_cross_entropy(ds.constant([0.0, 0.0]), ds.constant([1.0, 0.0]))
        assert session.run(one_point) == pytest.approx(np.log(2))


def test_relu_and_tanh_forward():
    with ds.Graph().as_default():
        x = ds.constant([-1.0, 0.0, 2.0])
        session = ds.Session()
        assert session.run(ds.relu(x)).tolist() == [0.0, 0.0, 2.0]
        np.testing.assert_allclose(session.run(ds.tanh(x)), np.tanh([-1.0, 0.0, 2.0]))


def dropout_graph(rate, seed=0):
    x = ds.Variable(np.full((200, 50), 2.0))
    training = ds.placeholder(name="training")
    dropped = ds.dropout(x, training, rate, seed=seed)
    weights = ds.constant(rng.standard_normal((200, 50)))
    loss = ds.reduce_sum(ds.multiply(dropped, weights))
    (mask,) = [node for node in dropped.input_nodes if isinstance(node, ds.dropout_mask)]
    return x, training, dropped, mask, weights, loss


def test_dropout_keeps_the_expected_value_and_is_the_identity_at_inference():
    with ds.Graph().as_default():
        x, training, dropped, *_ = dropout_graph(rate=0.3)
        session = ds.Session()
        train_out = session.run(dropped, {training: True})
        assert set(np.unique(train_out)) == {0.0, 2.0 / 0.7}
        assert np.mean(train_out == 0) == pytest.approx(0.3, abs=0.02)
        assert train_out.mean() == pytest.approx(2.0, rel=0.03)
        assert np.array_equal(session.run(dropped, {training: False}), x.value)


def test_dropout_gradient_flows_through_the_kept_entries_only():
    with ds.Graph().as_default():
        x, training, _dropped, mask, weights, loss = dropout_graph(rate=0.5)
        session = ds.Session()
        mask_value, grads = session.run([mask, ds.compute_gradients(loss)], {training: 1})
        np.testing.assert_allclose(grads[x], weights.value * mask_value)
        assert np.any(mask_value == 0) and np.any(mask_value == 2.0)
        grads = session.run(ds.compute_gradients(loss), {training: 0})
        np.testing.assert_allclose(grads[x], weights.value)


def test_dropout_is_seeded():
    draws = []
    for _ in range(2):
        with ds.Graph().as_default():
            _, training, dropped, *_ = dropout_graph(rate=0.5, seed=3)
            draws.append(ds.Session().run(dropped, {training: 1}))
    assert np.array_equal(*draws)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_must_be_a_probability_below_one(rate):
    with ds.Graph().as_default(), pytest.raises(ValueError, match="dropout rate"):
        ds.dropout(ds.constant([1.0]), ds.constant(1.0), rate)


@pytest.mark.parametrize(
    "optimizer",
    [GradientDescentOptimizer(0.1), MomentumOptimizer(0.05, 0.9), AdamOptimizer(0.1)],
    ids=["gd", "momentum", "adam"],
)
def test_every_optimizer_minimises_a_quadratic(optimizer):
    with ds.Graph().as_default():
        w = ds.Variable([3.0, -2.0])
        target = ds.constant([1.0, 1.0])
        difference = ds.add(w, ds.negative(target))
        step = optimizer.minimize(ds.reduce_sum(ds.multiply(difference, difference)))
        session = ds.Session()
        for _ in range(300):
            session.run(step)
    np.testing.assert_allclose(w.value, [1.0, 1.0], atol=1e-3)


def test_momentum_and_adam_take_their_textbook_first_steps():
    with ds.Graph().as_default():
        u, v = ds.Variable([1.0, 1.0]), ds.Variable([1.0, 1.0])
        scale = ds.constant([1.0, 100.0])
        session = ds.Session()
        session.run(MomentumOptimizer(0.1, 0.9).minimize(ds.reduce_sum(ds.multiply(u, scale))))
        session.run(AdamOptimizer(0.1).minimize(ds.reduce_sum(ds.multiply(v, scale))))
    np.testing.assert_allclose(u.value, [1 - 0.1, 1 - 10.0])
    np.testing.assert_allclose(
        v.value, [0.9, 0.9]
    )  # Adam's first step: the rate, whatever the scale


@pytest.mark.parametrize(
    "make", [lambda: MomentumOptimizer(0.1, momentum=1.0), lambda: AdamOptimizer(-1)]
)
def test_optimizer_settings_are_checked(make):
    with pytest.raises(ValueError, match="must be"):
        make()


def test_moons_split_and_batches():
    X, c = ds.datasets.moons(200, seed=1)
    assert X.shape == (200, 2) and c.sum(axis=0).tolist() == [100, 100]
    assert np.array_equal(X, ds.datasets.moons(200, seed=1)[0])
    X_train, c_train, X_test, _c_test = ds.datasets.train_test_split(X, c, 0.25, seed=2)
    assert (len(X_train), len(X_test)) == (150, 50)
    together = np.concatenate([X_train, X_test])
    assert sorted(map(tuple, together)) == sorted(map(tuple, X))
    batches = list(ds.datasets.batches(X_train, c_train, 32, np.random.default_rng(0)))
    assert [len(b) for b, _ in batches] == [32, 32, 32, 32, 22]
    seen = np.concatenate([b for b, _ in batches])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, X_train))


def test_digits_come_from_scikit_learn_without_a_download():
    X, c = ds.datasets.digits()
    assert X.shape == (1797, 64) and c.shape == (1797, 10)
    assert c.sum() == 1797 and X.min() >= 0.0 and X.max() == 1.0
    from sklearn.datasets import load_digits  # read here without it: the same numbers

    sklearn_digits = load_digits()
    assert np.array_equal(X * 16, sklearn_digits.data)
    assert np.array_equal(c.argmax(axis=1), sklearn_digits.target)


def test_digits_say_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="needs scikit-learn installed"):
        ds.datasets.digits()
    moved = importlib.machinery.ModuleSpec("sklearn", None, is_package=True)
    moved.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: moved)
    with pytest.raises(FileNotFoundError, match=r"scikit-learn .* has no .*digits\.csv\.gz"):
        ds.datasets.digits()


def test_softmax_cross_entropy_gradients_unbroadcast_like_add():
    # A row of logits for every point (from a bias alone), and one row of labels for all.
    check_gradients(ds.softmax_cross_entropy, A[0], ONE_HOT)
    check_gradients(ds.softmax_cross_entropy, A, ONE_HOT[0])


def test_reduce_mean_of_nothing_is_an_error_and_of_empty_rows_is_empty():
    with ds.Graph().as_default():
        x = ds.placeholder(name="x")
        w = ds.Variable([1.0, 2.0])
        batch_mean = ds.reduce_mean(x * w, axis=0, name="batch_mean")
        row_means = ds.reduce_mean(x * w, axis=1)
        session = ds.Session()
        empty = {x: np.zeros((0, 2))}
        with pytest.raises(ValueError, match=r"'batch_mean'.*\(0, 2\).*no entries to average"):
            session.run(batch_mean, empty)
        grads = session.run(ds.compute_gradients(ds.reduce_sum(row_means)), empty)
    assert grads[x].shape == (0, 2) and grads[w].tolist() == [0.0, 0.0]
