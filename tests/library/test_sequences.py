"""The operations of recurrent networks and of a variational autoencoder: index (``x[key]``),
stack, concat, exp, random_normal and sample_normal, and gradient clipping.

Values are compared with numpy; every gradient with central finite differences (gradcheck.py),
for each form of indexing; random numbers follow the seeding rule; bad input gets an error
naming the node and the shapes; the graph optimiser keeps a small recurrent network's values and
gradients; and a wrong gradient is caught.
"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import check_gradients, finite_difference
from test_optimizer import assert_optimiser_keeps_values

import deepscratch as ds


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def run(op_of, *values, optimize=True):
    with ds.Graph().as_default():
        return ds.Session(optimize=optimize).run(op_of(*[ds.constant(v) for v in values]))


# -- index --------------------------------------------------------------------------------------

# Every form numpy's indexing takes: an integer, a negative one, slices with steps (negative
# too), ..., None (a new axis), a list of positions that repeats one, a list on an inner axis,
# and combinations.
KEYS = [
    1,
    -1,
    (slice(None), 2),
    (slice(None), -1),
    slice(1, None),
    (slice(None), slice(0, 4, 2)),
    (slice(None, None, -1), slice(3, 0, -2)),
    (Ellipsis, 0),
    (0, Ellipsis),
    (None, slice(None), 1),
    (slice(None), None, 0),
    [0, 2, 0],
    (slice(None), [3, 0, 3, 3]),
    (1, slice(1, 3), [0, 0]),
    (slice(1, 2),),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_index_computes_what_numpy_does(key, optimize):
    x = random(3, 4, 2)
    np.testing.assert_array_equal(run(lambda x: x[key], x, optimize=optimize), x[key])


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_index_gradient(key):
    check_gradients(lambda x: ds.index(x, key), random(3, 4, 2, seed=1))


def test_an_entry_picked_twice_gets_both_gradients():
    with ds.Graph().as_default():
        x = ds.Variable([1.0, 2.0, 3.0])
        grads = ds.Session().run(ds.compute_gradients(ds.reduce_sum(x[[2, 2, 0]])))
    np.testing.assert_array_equal(grads[x], [1.0, 0.0, 2.0])


def test_a_node_is_not_iterable():
    """``node[key]`` builds an operation, so without a guard ``for entry in node`` would
    build index nodes forever."""
    with ds.Graph().as_default() as graph:
        x = ds.constant([1.0, 2.0])
        with pytest.raises(TypeError, match="not iterable"):
            list(x)
        assert len(graph.nodes) == 1


@pytest.mark.parametrize(
    "key, message",
    [
        (1.5, "index 'i': cannot index with 1.5"),
        ((slice(None), "a"), "index 'i': cannot index with 'a'"),
        (slice(0.5, 2), "index 'i': cannot index with slice(0.5, 2, None)"),
        ([0.0, 1.0], "index 'i': positions must be integers, got [0.0, 1.0]"),
        (True, "index 'i': cannot index with True"),
    ],
)
def test_a_key_numpy_would_not_take_is_refused_when_the_node_is_made(key, message):
    with ds.Graph().as_default() as graph:
        x = ds.constant(np.ones((2, 3)))
        with pytest.raises(TypeError) as error:
            ds.index(x, key, name="i")
        assert message in str(error.value)
        assert len(graph.nodes) == 1  # nothing left behind


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_an_index_out_of_range_names_the_node_and_the_shape(optimize):
    with ds.Graph().as_default():
        x = ds.placeholder()
        step = ds.index(x, (slice(None), 5), name="step")
        with pytest.raises(ValueError) as error:
            ds.Session(optimize=optimize).run(step, {x: np.ones((2, 3))})
    message = str(error.value)
    assert "index 'step'" in message and "shapes (2, 3)" in message
    assert "index 5 is out of bounds for axis 1 with size 3" in message


# -- stack and concat ---------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis):
    xs = [random(2, 3, seed=i) for i in range(3)]
    np.testing.assert_array_equal(
        run(lambda *nodes: ds.stack(list(nodes), axis=axis), *xs), np.stack(xs, axis=axis)
    )
    check_gradients(lambda *nodes: ds.stack(list(nodes), axis=axis), *xs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    shapes = {0: [(1, 3), (2, 3), (4, 3)], 1: [(2, 1), (2, 3), (2, 2)]}[axis % 2]
    xs = [random(*shape, seed=i) for i, shape in enumerate(shapes)]
    np.testing.assert_array_equal(
        run(lambda *nodes: ds.concat(list(nodes), axis=axis), *xs),
        np.concatenate(xs, axis=axis),
    )
    check_gradients(lambda *nodes: ds.concat(list(nodes), axis=axis), *xs)


def test_one_node_stacked_twice_gets_both_gradients():
    check_gradients(lambda x: ds.stack([x, ds.multiply(x, x), x], axis=1), random(4, seed=3))
    check_gradients(lambda x: ds.concat([x, x]), random(2, 2, seed=4))


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_arrays_that_do_not_fit_name_the_node_and_the_shapes(optimize):
    for op_of, message in [
        (lambda a, b: ds.stack([a, b], name="s"), "stack 's' in"),
        (lambda a, b: ds.concat([a, b], axis=1, name="c"), "concat 'c' in"),
    ]:  # fmt: skip
        with ds.Graph().as_default():
            a, b = ds.placeholder(), ds.placeholder()
            with pytest.raises(ValueError) as error:
                ds.Session(optimize=optimize).run(op_of(a, b), {a: np.ones((2, 3)), b: np.ones(3)})
        assert message in str(error.value)
        assert "with inputs of shapes (2, 3) and (3,)" in str(error.value)


@pytest.mark.parametrize("kind", [ds.stack, ds.concat])
def test_stack_and_concat_take_a_list_and_an_integer_axis(kind):
    name = kind.__name__
    with ds.Graph().as_default() as graph:
        x = ds.constant([1.0])
        with pytest.raises(TypeError, match=f"{name} 'j' takes a list of nodes"):
            kind(x, name="j")
        with pytest.raises(TypeError, match=f"{name} 'j' takes a list of nodes"):
            kind([], name="j")
        with pytest.raises(TypeError, match=f"{name} 'j': axis must be an integer, got 0.5"):
            kind([x, x], 0.5, name="j")
        assert len(graph.nodes) == 1


# -- exp, random_normal, sample_normal ----------------------------------------------------------


def test_exp_and_its_gradient():
    x = random(3, 2, seed=5)
    np.testing.assert_allclose(run(ds.exp, x), np.exp(x), rtol=1e-15)
    check_gradients(ds.exp, x)


def test_random_normal_draws_fresh_standard_normal_numbers_in_every_run():
    with ds.Graph().as_default():
        noise = ds.random_normal(ds.constant(np.zeros((200, 50))), seed=7)
        session = ds.Session()
        first, second = session.run(noise), session.run(noise)
    assert first.shape == (200, 50)
    assert not np.array_equal(first, second)
    for sample in (first, second):  # 10,000 draws: mean within 4 sd, variance within 5%
        assert abs(sample.mean()) < 4 / 100 and abs(sample.var() - 1) < 0.05
    np.testing.assert_array_equal(first, np.random.default_rng(7).standard_normal((200, 50)))


def test_random_normal_without_a_seed_follows_the_seeding_rule():
    """Without a seed, the numbers come from the graph's seed and the node's place in it: the
    same in a rebuilt graph, different for two nodes and for another graph seed."""

    def draws(graph_seed):
        with ds.Graph(seed=graph_seed).as_default():
            like = ds.constant(np.zeros(5))
            a, b = ds.random_normal(like), ds.random_normal(like)
            return ds.Session().run([a, b])

    (a, b), (a_again, _), (a_other, _) = draws(0), draws(0), draws(1)
    np.testing.assert_array_equal(a, a_again)
    assert not np.array_equal(a, b) and not np.array_equal(a, a_other)


def test_random_normal_is_not_folded_into_a_constant_or_merged():
    """The graph optimiser must draw every run, and keep two draws of one shape apart."""
    with ds.Graph().as_default():
        like = ds.constant(np.zeros(3))
        a, b = ds.random_normal(like, seed=1), ds.random_normal(like, seed=1)
        session = ds.Session(optimize=True)
        first_a, first_b = session.run([a, b])
        second_a, _ = session.run([a, b])
    np.testing.assert_array_equal(first_a, first_b)  # same seed, separate streams
    assert not np.array_equal(first_a, second_a)


def test_a_sample_is_the_mean_plus_the_scale_times_the_noise():
    with ds.Graph().as_default():
        mean, scale = ds.Variable([1.0, -2.0, 0.5]), ds.Variable([0.1, 2.0, 3.0])
        sample = ds.sample_normal(mean, scale, seed=3)
        value = ds.Session().run(sample)
    noise = np.random.default_rng(3).standard_normal(3)
    np.testing.assert_allclose(value, [1.0, -2.0, 0.5] + np.array([0.1, 2.0, 3.0]) * noise)


def test_the_gradient_reaches_the_mean_and_the_scale():
    """The reparameterisation trick: at fixed noise e, the sample is mean + scale * e, so
    d(sample)/d(mean) = 1 and d(sample)/d(scale) = e. Finite differences need the same noise in
    every run, so each evaluation rebuilds the graph, whose first draw is always the same."""
    rng = np.random.default_rng(9)
    mean_value, scale_value = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))
    weights = rng.standard_normal((2, 3))

    def loss_and_gradients():
        with ds.Graph().as_default():
            mean, scale = ds.Variable(mean_value), ds.Variable(scale_value)
            sample = ds.sample_normal(mean, scale, seed=4)
            loss = ds.reduce_sum(ds.multiply(ds.multiply(sample, sample), weights))
            value, grads = ds.Session().run([loss, ds.compute_gradients(loss)])
            return value, grads[mean], grads[scale]

    _, grad_mean, grad_scale = loss_and_gradients()
    for array, grad in [(mean_value, grad_mean), (scale_value, grad_scale)]:
        expected = finite_difference(lambda: loss_and_gradients()[0], array)
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)
    noise = np.random.default_rng(4).standard_normal((2, 3))
    np.testing.assert_allclose(grad_scale, grad_mean * noise)


# -- gradient clipping --------------------------------------------------------------------------


@pytest.mark.parametrize("optimize", [True, False], ids=["optimised", "as built"])
def test_clipping_caps_the_global_norm_and_keeps_the_direction(optimize):
    with ds.Graph().as_default():
        w, v = ds.Variable([3.0, 0.0]), ds.Variable([[0.0], [4.0]])
        loss = ds.add(ds.reduce_sum(ds.multiply(w, w)), ds.reduce_sum(ds.multiply(v, v)))
        step = ds.train.GradientDescentOptimizer(1.0).minimize(loss, clip_norm=2.0)
        ds.Session(optimize=optimize).run(step)
        # the gradients (6, 0) and (0, 8) have global norm 10: scaled by 2/10
        np.testing.assert_allclose(w.value, [3.0 - 1.2, 0.0])
        np.testing.assert_allclose(v.value, [[0.0], [4.0 - 1.6]])
        ds.Session(optimize=optimize).run(step)  # norm 10 * 0.6 = 6: clipped again
        np.testing.assert_allclose(w.value, [1.8 - 2 * 0.6, 0.0])


def test_gradients_within_the_norm_are_left_alone():
    grads = [("w", np.array([0.6])), ("v", np.array([0.8]))]
    assert ds.train.clip_by_global_norm(grads, 1.0) is grads
    clipped = ds.train.clip_by_global_norm(grads, 0.5)
    np.testing.assert_allclose([g for _, g in clipped], [[0.3], [0.4]])


@pytest.mark.parametrize("clip_norm", [0, -1.0, float("inf"), "1"])
def test_a_clip_norm_must_be_a_positive_number(clip_norm):
    with ds.Graph().as_default():
        w = ds.Variable([1.0])
        with pytest.raises((TypeError, ValueError), match="clip_norm"):
            ds.train.AdamOptimizer().minimize(ds.reduce_sum(w), clip_norm=clip_norm)


# -- a small recurrent network, as the chapter builds one --------------------------------------


def recurrent_network(steps: int = 4, gated: bool = False):
    """A batch of sequences X (B, T, V), a tanh cell (or a GRU-like gate) unrolled over the
    steps, the per-step logits stacked along the time axis, softmax cross-entropy per step."""
    rng = np.random.default_rng(0)
    B, V, H = 3, 4, 5
    X, C = ds.placeholder(name="X"), ds.placeholder(name="C")
    Wx, Wh = (
        ds.Variable(rng.standard_normal((V, H)) * 0.5),
        ds.Variable(rng.standard_normal((H, H)) * 0.5),
    )
    Wz, Wy = (
        ds.Variable(rng.standard_normal((V, H)) * 0.5),
        ds.Variable(rng.standard_normal((H, V)) * 0.5),
    )
    h = ds.constant(np.zeros((B, H)))
    outputs = []
    for t in range(steps):
        candidate = ds.tanh(X[:, t] @ Wx + h @ Wh)
        if gated:
            z = ds.sigmoid(X[:, t] @ Wz)
            h = z * h + (1 - z) * candidate
        else:
            h = candidate
        outputs.append(h @ Wy)
    logits = ds.stack(outputs, axis=1)  # (B, T, V)
    loss = ds.reduce_mean(ds.softmax_cross_entropy(logits, C))
    feed = {
        X: np.eye(V)[rng.integers(0, V, (B, steps))],
        C: np.eye(V)[rng.integers(0, V, (B, steps))],
    }
    return [logits, loss], feed, loss


@pytest.mark.parametrize("gated", [False, True], ids=["tanh cell", "gated cell"])
def test_the_optimiser_keeps_a_recurrent_networks_values_and_gradients(gated):
    assert_optimiser_keeps_values(lambda: recurrent_network(gated=gated))


def test_backpropagation_through_time_matches_finite_differences():
    with ds.Graph().as_default() as graph:
        _, feed, loss = recurrent_network(steps=3, gated=True)
        session = ds.Session()
        grads = session.run(ds.compute_gradients(loss), feed)
        for variable in graph.variables:
            expected = finite_difference(lambda: session.run(loss, feed), variable.value)
            np.testing.assert_allclose(grads[variable], expected, rtol=1e-5, atol=1e-8)


# -- a wrong gradient is caught -----------------------------------------------------------------


@pytest.mark.parametrize(
    "op_type, build, wrong",
    [
        (ds.index, lambda x: x[:, 1:], lambda op, grad, out, x: np.zeros(np.shape(x))),
        (ds.stack, lambda x: ds.stack([x, -x]),
         lambda op, grad, out, *xs: tuple(np.moveaxis(grad, op.axis, 0))[::-1]),
        (ds.concat, lambda x: ds.concat([x, 2 * x], axis=1),
         lambda op, grad, out, *xs: tuple(np.split(grad, 2, axis=1))[::-1]),
        (ds.exp, ds.exp, lambda op, grad, out, x: grad * x),
    ],
    ids=["index", "stack", "concat", "exp"],
)  # fmt: skip
def test_a_wrong_gradient_fails_the_check(monkeypatch, op_type, build, wrong):
    monkeypatch.setitem(ds.gradients.gradient_registry, op_type, wrong)
    with pytest.raises(AssertionError):
        check_gradients(build, random(2, 2, seed=11))
