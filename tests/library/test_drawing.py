"""Tests of deepscratch.drawing: the SVG is well formed, complete, readable and stable."""

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from deepscratch import (
    Graph,
    Variable,
    add,
    constant,
    log,
    matmul,
    multiply,
    negative,
    placeholder,
    reduce_sum,
    sigmoid,
    softmax,
)
from deepscratch.drawing import MAX_SPAN, MAX_WIDTH, GraphDrawing, _label, _Layout, draw
from deepscratch.graph import topological_order

SVG = "{http://www.w3.org/2000/svg}"


def parse(drawing: GraphDrawing) -> ET.Element:
    return ET.fromstring(drawing.svg)


def nodes(root: ET.Element) -> dict[str, ET.Element]:
    """Each node's group, by the full name in its tooltip."""
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("node")]
    return {g.find(f"{SVG}title").text: g for g in groups}


def shape(group: ET.Element) -> ET.Element:
    shapes = [e for e in group if e.tag in (f"{SVG}rect", f"{SVG}ellipse")]
    return shapes[0]


def box(group: ET.Element) -> tuple[float, float, float, float]:
    """The bounding box (left, top, right, bottom) of a node's shape."""
    s = shape(group)
    if s.tag == f"{SVG}ellipse":
        cx, cy, rx, ry = (float(s.get(a)) for a in ("cx", "cy", "rx", "ry"))
        return cx - rx, cy - ry, cx + rx, cy + ry
    x, y, w, h = (float(s.get(a)) for a in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def edges(root: ET.Element) -> list[str]:
    return [p.get("d") for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


@pytest.fixture
def diamond():
    """x feeds a and b, which both feed out: 4 nodes, 4 edges."""
    with Graph().as_default() as graph:
        x = placeholder(name="x")
        a = sigmoid(x, name="a")
        b = negative(x)
        add(a, b, name="out")
    return graph


def mlp() -> tuple[Graph, dict]:
    with Graph().as_default() as graph:
        X, c = placeholder(name="X"), placeholder(name="c")
        W1, b1 = Variable(np.ones((2, 3)), name="W1"), Variable(np.zeros(3), name="b1")
        W2, b2 = Variable(np.ones((3, 2)), name="W2"), Variable(np.zeros(2), name="b2")
        p = softmax(add(matmul(sigmoid(add(matmul(X, W1), b1)), W2), b2), name="p")
        J = negative(reduce_sum(reduce_sum(multiply(c, log(p)), axis=1)), name="J")
    return graph, {"X": X, "c": c, "W1": W1, "p": p, "J": J}


def test_svg_is_well_formed_and_accessible(diamond):
    drawing = draw(diamond, title="A diamond & more")
    root = parse(drawing)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "A diamond & more"
    assert root.find(f"{SVG}title").text == "A diamond & more"
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    assert width > 0 and height > 0
    background = root.find(f"{SVG}rect")  # the first shape, behind everything else
    assert background.get("fill") == "#ffffff" and background.get("width") == "100%"
    assert drawing._repr_svg_() == drawing.svg
    assert repr(drawing).startswith("<GraphDrawing of 4 nodes") and len(repr(drawing)) < 80


def test_default_title_lists_the_nodes(diamond):
    title = parse(draw(diamond)).find(f"{SVG}title").text
    assert title.startswith("Computational graph with 4 nodes:")
    assert "x" in title and "out" in title


def test_diamond_has_one_shape_per_node_and_one_path_per_edge(diamond):
    root = parse(draw(diamond))
    groups = nodes(root)
    assert set(groups) == {"x", "a", "negative_1", "out"}
    for group in groups.values():
        assert len([e for e in group if e.tag in (f"{SVG}rect", f"{SVG}ellipse")]) == 1
    assert shape(groups["x"]).tag == f"{SVG}rect"
    assert shape(groups["out"]).tag == f"{SVG}ellipse"
    paths = edges(root)
    assert len(paths) == 4 and len(set(paths)) == 4
    assert all(re.fullmatch(r"M[\d.,-]+( [CL][\d., -]+)+", d) for d in paths)


def test_an_input_used_twice_draws_two_distinct_edges():
    with Graph().as_default():
        x = placeholder(name="x")
        square = multiply(x, x)
    root = parse(draw(square))
    assert len(nodes(root)) == 2
    first, second = edges(root)
    assert first != second
    # Both leave x at the same point but arrive at different points of the multiply.
    assert first.split()[0] == second.split()[0]
    assert first.split()[-1] != second.split()[-1]


def test_labels_show_user_names_and_operation_types():
    with Graph().as_default():
        x, W = placeholder(name="x"), Variable([1.0], name="W")
        z = add(multiply(W, x), constant(2.0), name="z")
    labels = texts(parse(draw(z)))
    assert "x" in labels and "W" in labels
    assert "z" in labels and "add" in labels  # a user-named operation shows its type too
    assert "multiply" in labels and "multiply_1" not in labels  # an automatic name is hidden
    assert "2" in labels  # an unnamed scalar constant shows its value


def test_text_is_escaped():
    with Graph().as_default():
        x = placeholder(name="<x & y>")
        out = negative(x, name='"minus"')
    drawing = draw(out, annotations={out: "<1>"})
    labels = texts(parse(drawing))
    assert "<x & y>" in labels and '"minus"' in labels and "<1>" in labels
    assert "<x &" not in drawing.svg


def test_annotations_appear_as_badges():
    graph, n = mlp()
    root = parse(draw(graph, annotations={n["J"]: "1", n["p"]: 2, n["W1"]: "J"}))
    groups = nodes(root)
    for name, note in [("J", "1"), ("p", "2"), ("W1", "J")]:
        badge = [e for e in groups[name] if e.get("class") == "badge"]
        assert len(badge) == 1
        assert note in [t.text for t in groups[name].iter(f"{SVG}text")]
    assert not [e for e in groups["X"] if e.get("class") == "badge"]


def test_drawing_is_deterministic_across_processes():
    graph, n = mlp()
    svg = draw(graph, annotations={n["J"]: "1"}).svg
    assert draw(graph, annotations={n["J"]: "1"}).svg == svg
    # A fresh interpreter, with another hash seed and other objects, builds the same SVG.
    script = (
        "import sys\n"
        "from test_drawing import mlp, draw\n"
        "graph, n = mlp()\n"
        "sys.stdout.write(draw(graph, annotations={n['J']: '1'}).svg)"
    )
    other = subprocess.run(  # run in this file's folder, so that it imports this file
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    ).stdout
    assert other == svg


def downstream(drawing: GraphDrawing, graph: Graph) -> str:
    """Where every consumer lies from its inputs: "right" or "below" (or "mixed")."""
    groups = nodes(parse(drawing))
    sides = set()
    for node in graph.nodes:
        for input_node in node.input_nodes:
            source, consumer = box(groups[input_node.name]), box(groups[node.name])
            if source[2] < consumer[0]:
                sides.add("right")
            elif source[3] < consumer[1]:
                sides.add("below")
            else:
                sides.add("mixed")
    return "/".join(sorted(sides))


def test_a_small_graph_runs_left_to_right(diamond):
    assert downstream(draw(diamond), diamond) == "right"


def test_a_long_graph_runs_top_to_bottom_and_stays_narrow():
    graph, _ = mlp()
    drawing = draw(graph)
    assert downstream(drawing, graph) == "below"
    assert drawing.width <= MAX_WIDTH < drawing.height
    # Laid out left to right, the same graph would be too wide to read on a phone.
    order = topological_order(graph.nodes)
    labels = {node: _label(node) for node in order}
    assert _Layout(order, labels, vertical=False).width > MAX_WIDTH


def test_a_list_of_fetches_draws_their_ancestors_only():
    _, n = mlp()
    drawn = set(nodes(parse(draw([n["p"]]))))
    assert {"X", "W1", "p"} <= drawn
    assert "c" not in drawn and "J" not in drawn and "log_1" not in drawn
    assert len(drawn) == 11  # X, W1, b1, W2, b2, two matmuls, two adds, sigmoid, p
    assert set(nodes(parse(draw(n["W1"])))) == {"W1"}


def test_thirty_nodes_do_not_overlap():
    rng = np.random.default_rng(0)
    with Graph().as_default() as graph:
        pool = [placeholder(name=f"input_{i}") for i in range(5)]
        pool += [Variable(np.ones(2), name=f"weight_{i}") for i in range(3)]
        while len(graph.nodes) < 30:
            a, b = (pool[i] for i in rng.choice(len(pool), size=2))
            pool.append(add(a, b) if rng.random() < 0.5 else multiply(a, sigmoid(b)))
    root = parse(draw(graph))
    boxes = [box(g) for g in nodes(root).values()]
    assert len(boxes) == len(graph.nodes) >= 30
    assert len(edges(root)) == sum(len(node.input_nodes) for node in graph.nodes)
    width, height = float(root.get("width")), float(root.get("height"))
    for i, (left, top, right, bottom) in enumerate(boxes):
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        for other in boxes[i + 1 :]:
            apart = right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top
            assert apart, f"{(left, top, right, bottom)} overlaps {other}"


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted([luminance(foreground), luminance(background)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_text_contrasts_with_its_fill():
    graph, n = mlp()
    with graph.as_default():
        constant(3.0)
    groups = nodes(parse(draw(graph, annotations={n["J"]: "1"})))
    kinds = {g.get("class") for g in groups.values()}
    assert kinds == {"node placeholder", "node Variable", "node constant", "node operation"}
    fills = {shape(g).get("fill") for g in groups.values()}
    assert len(fills) == 4  # each kind of node has its own colour
    for group in groups.values():
        for text in group.iter(f"{SVG}text"):
            badge = [e for e in group if e.get("class") == "badge"]
            on_badge = text.get("fill") == "#ffffff"
            fill = (badge[0] if on_badge else shape(group)).get("fill")
            assert contrast(text.get("fill"), fill) >= 4.5


def test_save_writes_the_svg(tmp_path, diamond):
    drawing = draw(diamond)
    drawing.save(tmp_path / "graph.svg")
    assert (tmp_path / "graph.svg").read_text(encoding="utf-8") == drawing.svg


def test_empty_graph_and_bad_targets():
    parse(draw(Graph()))
    with pytest.raises(TypeError):
        draw([1, 2])


def fed_to_a_chain(length: int, source: str = "leaf") -> tuple[Graph, placeholder | sigmoid]:
    """x (or sigmoid(x)) feeds each operation of a chain of ``length`` adds: its edges span
    1, 2, ..., ``length`` ranks."""
    with Graph().as_default() as graph:
        x = placeholder(name="x")
        fed = x if source == "leaf" else sigmoid(x, name="h")
        total = fed
        for _ in range(length):
            total = add(total, fed)
    return graph, fed


def copies(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if "copy" in g.get("class", "").split()]


@pytest.mark.parametrize("source", ["leaf", "operation"])
def test_a_node_with_consumers_far_apart_is_drawn_again_next_to_them(source):
    graph, fed = fed_to_a_chain(40, source)
    drawing = draw(graph)
    root = parse(drawing)
    again = copies(root)
    # Each copy serves the consumers of up to MAX_SPAN ranks: a few copies, not one per edge.
    assert 40 / MAX_SPAN - 1 <= len(again) <= 40 / MAX_SPAN + 1
    original = nodes(root)[fed.name]
    assert "copy" not in original.get("class")
    for group in again:
        # The same node: the same name in its tooltip, label, shape and colours, but dashed.
        assert group.find(f"{SVG}title").text.startswith(fed.name)
        assert texts(group) == texts(original)
        assert shape(group).tag == shape(original).tag
        assert shape(group).get("fill") == shape(original).get("fill")
        assert shape(group).get("stroke-dasharray") and not shape(original).get("stroke-dasharray")
    # Every node once, undashed, and one path per edge; no edge crosses more than MAX_SPAN ranks.
    solid = [
        g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("node") and g not in again
    ]
    assert sorted(g.find(f"{SVG}title").text for g in solid) == sorted(n.name for n in graph.nodes)
    paths = edges(root)
    assert len(paths) == sum(len(node.input_nodes) for node in graph.nodes)
    assert max(len(re.findall("[CL]", d)) for d in paths) <= 2 * MAX_SPAN - 1
    assert drawing.node_count == len(graph.nodes)


def test_a_graph_whose_edges_span_few_ranks_has_no_copies():
    graph, _ = fed_to_a_chain(MAX_SPAN)
    root = parse(draw(graph))
    assert not copies(root)
    assert max(len(re.findall("[CL]", d)) for d in edges(root)) == 2 * MAX_SPAN - 1
    assert len(copies(parse(draw(fed_to_a_chain(MAX_SPAN + 1)[0])))) == 1


def test_drawing_takes_time_and_space_linear_in_the_graph():
    """Once quadratic: one input feeding each of 600 operations took 6 s and 10 MB of SVG."""

    graphs = {length: fed_to_a_chain(length)[0] for length in (200, 1600)}
    fastest = {length: float("inf") for length in graphs}
    sizes = {}
    # The two sizes take turns, and each keeps its fastest time: a burst of other work on a
    # busy machine slows one measurement, not the pair.
    for _ in range(3):
        for length, graph in graphs.items():
            start = time.perf_counter()
            sizes[length] = len(draw(graph).svg)
            fastest[length] = min(fastest[length], time.perf_counter() - start)
        if fastest[1600] > 20:
            break  # far too slow already: no need to measure it again
    assert fastest[200] < 1 and sizes[200] < 350_000
    # Eight times the graph: linear is 8 times the cost, quadratic 64. The bound between them
    # leaves room for a busy machine's noise (and for the bigger graph's slower memory).
    assert fastest[1600] < 24 * fastest[200]
    assert sizes[1600] < 8.8 * sizes[200]
