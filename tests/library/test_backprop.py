"""Backpropagation on the graphs where the original breadth-first order goes wrong."""

import numpy as np
import pytest
from gradcheck import check_gradients

import deepscratch as ds

pytestmark = pytest.mark.usefixtures("fresh_graph")


def gradients(loss, feed=None):
    return ds.Session().run(ds.compute_gradients(loss), feed)


@pytest.fixture
def registry(monkeypatch):
    """A copy of the gradient registry, for a test to register into: whatever it registers is
    gone when it ends, failed or passed, and the other tests see the registry as it was."""
    copy = dict(ds.gradients.gradient_registry)
    monkeypatch.setattr(ds.gradients, "gradient_registry", copy)
    return copy


def test_paths_of_different_lengths():
    # x reaches the loss directly and through a chain of three operations. Breadth-first
    # from the loss visits x after its short path only and misses the long one.
    x = ds.Variable(0.5)
    long_path = ds.sigmoid(ds.negative(ds.sigmoid(x)))
    loss = ds.add(long_path, x)
    s = 1 / (1 + np.exp(-0.5))
    outer = 1 / (1 + np.exp(s))
    expected = 1 + outer * (1 - outer) * -1 * s * (1 - s)
    assert gradients(loss)[x] == pytest.approx(expected)


def test_skip_connection_matches_finite_differences():
    def residual_block(x, W):
        hidden = ds.sigmoid(ds.matmul(x, W))
        return ds.add(ds.sigmoid(ds.matmul(hidden, W)), x)

    W0 = np.random.default_rng(1).standard_normal((3, 3))
    check_gradients(residual_block, np.eye(3) * 0.3 + 0.1, W0)


def test_diamond():
    check_gradients(lambda x: ds.multiply(ds.sigmoid(x), ds.log(ds.add(x, 3.0))), [0.3, -1.2, 2.0])


def test_same_input_twice():
    x = ds.Variable([1.0, -2.0, 3.0])
    np.testing.assert_allclose(gradients(ds.reduce_sum(ds.multiply(x, x)))[x], [2, -4, 6])
    np.testing.assert_allclose(gradients(ds.reduce_sum(ds.add(x, x)))[x], [2, 2, 2])


def test_consumers_that_do_not_lead_to_the_loss_are_ignored():
    x = ds.Variable([1.0, 2.0])
    loss = ds.reduce_sum(ds.multiply(x, 3.0))
    ds.sigmoid(x)  # a second consumer of x that the loss never reads
    ds.softmax(ds.log(x))
    grads = gradients(loss)
    np.testing.assert_allclose(grads[x], [3, 3])


def test_bias_broadcasting_in_add():
    X = ds.placeholder()
    b = ds.Variable([0.0, 0.0, 0.0])
    loss = ds.reduce_sum(ds.multiply(ds.add(X, b), ds.constant([1.0, 2.0, 3.0])))
    grads = gradients(loss, {X: np.ones((5, 3))})
    np.testing.assert_allclose(grads[b], [5, 10, 15])


def data_through_a_sigmoid_times_a_variable():
    X = ds.placeholder()
    w = ds.Variable([1.0, 2.0])
    hidden = ds.sigmoid(X)
    weighted = ds.multiply(hidden, w)
    return X, w, hidden, weighted, ds.reduce_sum(weighted)


def test_a_training_step_computes_no_gradient_for_nodes_without_variables():
    _, _, _, weighted, loss = data_through_a_sigmoid_times_a_variable()
    path = ds.gradients.gradient_path(loss)
    assert [(op, needed) for op, needed in path] == [(loss, (True,)), (weighted, (False, True))]


def test_compute_gradients_offers_every_node_the_loss_depends_on_data_included():
    X, w, hidden, weighted, loss = data_through_a_sigmoid_times_a_variable()
    grads = gradients(loss, {X: [0.0, 0.0]})
    assert set(grads) == {loss, weighted, hidden, X, w}
    np.testing.assert_allclose(grads[X], [0.25, 0.5])  # w * sigmoid'(0): input saliency
    unused = ds.Variable([1.0], name="unused")
    with pytest.raises(KeyError, match=r"does not depend on <Variable 'unused'"):
        grads[unused]


class square(ds.Operation):
    def __init__(self, x, name=None):
        super().__init__([x], name)

    def compute(self, x_value):
        return x_value**2


class cube(ds.Operation):
    def __init__(self, x, name=None):
        super().__init__([x], name)

    def compute(self, x_value):
        return x_value**3


@ds.RegisterGradient("square")
def _square_gradient(op, grad, output, x):
    return 2 * x * grad


def test_user_defined_operation_with_a_gradient_trains():
    w = ds.Variable([3.0, -2.0])
    step = ds.train.GradientDescentOptimizer(0.1).minimize(ds.reduce_sum(square(w)))
    session = ds.Session()
    for _ in range(100):
        session.run(step)
    np.testing.assert_allclose(w.value, [0, 0], atol=1e-8)


def test_user_defined_operation_without_a_gradient_names_its_type():
    w = ds.Variable([3.0])
    optimizer = ds.train.GradientDescentOptimizer(0.1)
    with pytest.raises(LookupError, match=r"'cube'.*RegisterGradient"):
        optimizer.minimize(ds.reduce_sum(cube(w)))
    assert ds.Session().run(ds.reduce_sum(w)) == 3.0


def test_register_gradient_by_class_or_unknown_name(registry):
    @ds.RegisterGradient(cube)
    def _cube_gradient(op, grad, output, x):
        return 3 * x**2 * grad

    assert registry[cube] is _cube_gradient
    w = ds.Variable([2.0])
    assert gradients(ds.reduce_sum(cube(w)))[w].tolist() == [12.0]
    with pytest.raises(ValueError, match="no Operation subclass"):
        ds.RegisterGradient("no_such_op")


def test_a_gradient_of_the_wrong_shape_is_reported(registry):
    class flatten_wrong(ds.Operation):
        def __init__(self, x):
            super().__init__([x])

        def compute(self, x_value):
            return x_value

    ds.RegisterGradient(flatten_wrong)(lambda op, grad, output, x: grad.ravel())
    w = ds.Variable(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"shape \(4,\).*shape \(2, 2\)"):
        gradients(ds.reduce_sum(flatten_wrong(w)))


def test_a_notebook_cell_that_defines_an_operation_twice_registers_the_latest(registry):
    defined = []
    for _ in range(2):  # the cell, run twice

        class square(ds.Operation):
            def __init__(self, x):
                super().__init__([x])

            def compute(self, x_value):
                return x_value**2

        @ds.RegisterGradient("square")
        def _square_gradient(op, grad, output, x):
            return 2 * x * grad

        defined.append(square)
    w = ds.Variable([3.0])
    assert gradients(ds.reduce_sum(defined[-1](w)))[w].tolist() == [6.0]


def test_a_subclass_with_its_own_compute_does_not_inherit_the_gradient():
    class reduce_max(ds.reduce_sum):
        def compute(self, A_value):
            return A_value.max(axis=self.axis)

    w = ds.Variable([1.0, 5.0, 2.0])
    with pytest.raises(LookupError, match=r"no gradient is registered.*'reduce_max'"):
        ds.compute_gradients(reduce_max(w))

    class named_sum(ds.reduce_sum):  # a new constructor, the same computation
        def __init__(self, A):
            super().__init__(A, name="total")

    assert gradients(named_sum(w))[w].tolist() == [1.0, 1.0, 1.0]


def test_the_package_imports_form_a_tree():
    """No module of deepscratch imports, even inside a function, one that imports it back."""
    import ast
    from pathlib import Path

    package = Path(ds.__file__).parent
    imports = {}
    for path in package.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {a.name for a in node.names}
        imports[path.stem] = names

    def reaches(start, target, seen=()):
        return any(
            module == target or (module not in seen and reaches(module, target, (*seen, module)))
            for module in imports.get(start, ())
        )

    assert imports["graph"] == set()
    assert [module for module in imports if reaches(module, module)] == []
