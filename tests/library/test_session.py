"""Graphs, default graphs and sessions: what runs, how often, and in which graph."""

import numpy as np
import pytest

import deepscratch as ds


class counting(ds.Operation):
    """Passes its input through and counts how often it is computed."""

    def __init__(self, x, name=None):
        super().__init__([x], name)
        self.calls = 0

    def compute(self, x_value):
        self.calls += 1
        return x_value


def test_as_default_without_with_sets_the_default():
    graph = ds.Graph()
    previous = ds.get_default_graph()
    graph.as_default()
    try:
        assert ds.get_default_graph() is graph
        assert ds.placeholder().graph is graph
    finally:
        previous.as_default()


def test_with_restores_the_previous_default():
    outer = ds.get_default_graph()
    with ds.Graph().as_default() as inner:
        assert ds.get_default_graph() is inner
        with ds.Graph().as_default() as innermost:
            assert ds.Variable(1).graph is innermost
        assert ds.get_default_graph() is inner
    assert ds.get_default_graph() is outer


def test_graph_lists_its_nodes_by_kind():
    with ds.Graph().as_default() as graph:
        x, w = ds.placeholder(), ds.Variable(2)
        z = ds.multiply(x, w)
    assert graph.placeholders == [x] and graph.variables == [w] and graph.operations == [z]
    assert x.consumers == [z] and z.input_nodes == [x, w]


def test_names_and_repr():
    with ds.Graph("demo").as_default():
        x = ds.placeholder(name="x")
        z = ds.add(x, x)
        z2 = ds.add(x, x)
    assert repr(x) == "<placeholder 'x' in <Graph demo>>"
    assert (z.name, z2.name) == ("add_1", "add_2")
    assert repr(z2) == "<add 'add_2' in <Graph demo>>"


def test_each_needed_node_is_computed_once_and_no_other():
    with ds.Graph().as_default():
        x = ds.placeholder()
        shared = counting(x)
        unused = counting(x)
        z = ds.add(ds.sigmoid(shared), ds.negative(shared))
        ds.Session().run([z, z, shared], {x: [0.0]})
    assert (shared.calls, unused.calls) == (1, 0)


def test_feeds_lists_and_scalars_become_float_arrays():
    with ds.Graph().as_default():
        x = ds.placeholder()
        seen = ds.Session().run(x, {x: [[1, 2]]})
    assert seen.dtype == np.float64 and seen.shape == (1, 2)


def test_scalar_results_are_floats_and_lists_give_lists():
    with ds.Graph().as_default():
        x = ds.Variable([1, 2])
        total = ds.reduce_sum(x)
        result = ds.Session().run([total, x])
    assert result[0] == 3.0 and type(result[0]) is float
    assert result[1].tolist() == [1.0, 2.0]


def test_a_fetched_variable_is_a_copy():
    with ds.Graph().as_default():
        w = ds.Variable([1.0])
        fetched = ds.Session().run(w)
        fetched[0] = 5.0
    assert w.value.tolist() == [1.0]


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    with ds.Graph().as_default():
        node = ds.Variable(0.0)
        for _ in range(5000):
            node = ds.add(node, 1.0)
        session = ds.Session()
        assert session.run(node) == 5000.0
        assert session.run(ds.compute_gradients(node))[node.graph.variables[0]] == 1.0


def test_running_another_graphs_node_fails_clearly():
    with ds.Graph("first").as_default():
        x = ds.Variable(1.0)
    with ds.Graph("second").as_default():
        session = ds.Session()
        with pytest.raises(ValueError, match=r"<Graph first>.*Session"):
            session.run(x)


def test_an_operation_cannot_mix_graphs():
    with ds.Graph("first").as_default():
        x = ds.Variable(1.0)
    with ds.Graph("second").as_default() as second:
        y = ds.Variable(2.0)
        with pytest.raises(ValueError, match="belongs to <Graph first>"):
            ds.add(x, y)
        assert second.operations == [] and y.consumers == []


def test_graphs_replaced_without_with_are_freed():
    """A notebook cell that runs ds.Graph().as_default() and builds a model, run again and
    again, keeps only the graph that is the default now."""
    import gc
    import weakref

    previous = ds.get_default_graph()
    try:
        graphs = []
        for _ in range(20):
            graph = ds.Graph().as_default()
            ds.Variable(np.ones((100, 100)))
            graphs.append(weakref.ref(graph))
        del graph
        gc.collect()
        assert [ref() is not None for ref in graphs] == [False] * 19 + [True]
    finally:
        previous.as_default()


def test_with_graph_makes_it_the_default_for_the_block():
    outer = ds.get_default_graph()
    with ds.Graph() as graph:
        assert ds.get_default_graph() is graph
        assert ds.placeholder().graph is graph
    assert ds.get_default_graph() is outer


def test_each_thread_has_its_own_default_graph():
    import threading

    outer = ds.get_default_graph()
    built = {}

    def build(name):
        with ds.Graph(name) as graph:
            started.wait()
            built[name] = (graph, ds.placeholder())

    started = threading.Event()
    threads = [threading.Thread(target=build, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    for graph, node in built.values():
        assert node.graph is graph
    assert ds.get_default_graph() is outer


def test_a_session_is_a_context_manager():
    with ds.Graph().as_default():
        x = ds.Variable(2.0)
        with ds.Session() as session:
            assert session.run(x * x) == 4.0


def test_names_are_unique_in_a_graph():
    with ds.Graph().as_default() as graph:
        first = ds.placeholder(name="x")
        second = ds.placeholder(name="x")
        chosen = ds.add(first, second, name="add_1")
        automatic = ds.add(first, second)
        named_like_it = ds.add(first, second, name="add_2")
    assert [first.name, second.name] == ["x", "x_1"]
    assert (chosen.name, automatic.name, named_like_it.name) == ("add_1", "add_2", "add_2_1")
    assert len({node.name for node in graph.nodes}) == len(graph.nodes)


def test_a_name_is_a_keyword_and_a_string():
    with ds.Graph().as_default():
        a, b, c = ds.Variable(1.0), ds.Variable(2.0), ds.Variable(3.0)
        with pytest.raises(TypeError):
            ds.add(a, b, c)
        with pytest.raises(TypeError):
            ds.sigmoid(a, 5)
        with pytest.raises(TypeError, match="name of a add must be a string, got 5"):
            ds.add(a, b, name=5)


def test_a_failed_operation_leaves_nothing_behind():
    with ds.Graph("first").as_default():
        x = ds.Variable(1.0)
    with ds.Graph("second").as_default() as second:
        with pytest.raises(ValueError, match="belongs to <Graph first>"):
            ds.add(3.0, x)  # the 3.0 would become a constant of the second graph
        with pytest.raises(TypeError, match="must be numeric"):
            ds.add(3.0, "four")
        with pytest.raises(TypeError, match="must be a string"):
            ds.add(3.0, 4.0, name=[1])
    assert second.nodes == []


def test_with_a_graph_that_is_already_the_default_keeps_it_the_default():
    outer = ds.get_default_graph()
    with outer:
        ds.placeholder()
    assert ds.get_default_graph() is outer
    graph = ds.Graph().as_default()
    try:
        ds.placeholder()  # the graph is in use: a later with block keeps it the default
        with graph:
            pass
        assert ds.get_default_graph() is graph
    finally:
        outer.as_default()


def chain_of_adds(length: int) -> tuple[ds.Operation, ds.Session]:
    x = ds.placeholder(name="x")
    y = x
    for _ in range(length):
        y = ds.add(y, x)
    session = ds.Session()
    assert session.run(y, {x: 1.0}) == length + 1
    return y, session


def test_a_large_plan_starts_a_stack_chunk_of_its_own(fresh_graph):
    """A plan's locals are one frame of Python's stack, which CPython keeps in
    16 KB chunks: a large plan is made too large for any chunk's remainder, so
    that its calls never straddle a chunk boundary (each would allocate and
    free a chunk); a small plan keeps its plain source."""
    from deepscratch.plan import CHUNK_SLOTS

    big, session = chain_of_adds(600)
    code = session.plans[(big,)].function.__code__
    assert code.co_nlocals + code.co_stacksize > CHUNK_SLOTS
    small, session = chain_of_adds(3)
    plan = session.plans[(small,)]
    assert "if False" not in plan.source
    assert plan.function.__code__.co_nlocals < 10
