"""Drawing computational graphs as SVG, in plain Python: no Graphviz to
install.

The layout is layered, as Graphviz's ``dot`` draws: a node's rank is the length
of the longest path to it, so every edge points the same way. An edge that
spans several ranks passes through a waypoint in each rank it crosses;
waypoints are ordered and spaced like nodes, so long edges go around nodes
rather than through them. An edge spans at most ``MAX_SPAN`` ranks: a node
with consumers further away is drawn again, dashed, just before them, so that
the drawing grows in proportion to the graph rather than to its edges' lengths.

Ranks run left to right while the drawing stays narrow enough for its labels to
be read on a phone (``MAX_WIDTH``); a longer graph is laid out top to bottom
instead, where its length costs only scrolling.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from .graph import Graph, Node, Operation, Variable, constant, placeholder
from .session import topological_order

# The font sizes of a label's first line and of an operation's type.
FONT, SMALL = 14, 12
# estimated width of a character per unit of font size: no font metrics here
CHAR = 0.6
# A one-line label's baseline lies this many font sizes below the middle of its
# node, which centres the letters; a two-line label has its name's baseline
# NAME_RISE above the middle, and its type's TYPE_DROP below it.
BASELINE = 0.35
NAME_RISE, TYPE_DROP = 2, 13
# A node's height; the least gap between two nodes of a rank, and between an
# edge and what lies next to it in its rank; the space around the drawing.
HEIGHT, ROW_GAP, EDGE_GAP, MARGIN = 40, 22, 14, 24
# A node is its text's width plus PADDING (half on each side), and no narrower
# than MIN_WIDTH; an ellipse, narrower at its ends than a box, is widened by
# ELLIPSE_STRETCH for its text to stay inside. CORNER rounds a box's corners.
MIN_WIDTH, PADDING, ELLIPSE_STRETCH, CORNER = 48.0, 24, 1.25, 8
# The width of outlines and edges.
STROKE = 1.5
# Between ranks, and between the points where an operation's inputs arrive,
# when the ranks run left to right (False) or top to bottom (True).
RANK_GAP, PORT = {False: 64, True: 40}, {False: 10, True: 20}
# A book column is about 690 px wide on a desktop and 358 px on a 390 px phone.
# A drawing at most this wide shows its smallest text at >= 9 px on the one and
# >= 6 px on the other.
MAX_WIDTH = 700
# The most ranks an edge spans. A node feeding consumers further away is drawn
# again, with a dashed outline, in the rank before the first of them (and the
# copy feeds the consumers up to MAX_SPAN ranks after it, and so on): otherwise
# one input of each of the N operations of a chain would cross N^2 / 2 ranks.
MAX_SPAN = 8
# The inputs' arrival points span a node's breadth less PORTS_INSET (half at
# each end), so that no edge arrives at a node's very tip.
PORTS_INSET = 14
# How many times the ranks are swept each way, to order them and then to place
# them: a few suffice for the book's graphs.
SWEEPS = 4
# A badge is BADGE high and at least as wide (a circle for one character), or
# its text's width plus BADGE_PADDING; its text's baseline is BADGE_BASELINE
# below its middle.
BADGE, BADGE_PADDING, BADGE_BASELINE = 18.0, 8, 4
# The default title names this many nodes at most.
TITLE_NAMES = 12
TEXT, EDGE = "#111827", "#4b5563"
# (fill, stroke) of each kind of node; TEXT has a contrast ratio of 12 or more
# on every fill.
STYLES = {
    placeholder: ("#dbeafe", "#1d4ed8"),
    Variable: ("#dcfce7", "#15803d"),
    constant: ("#e5e7eb", "#4b5563"),
    Operation: ("#fef3c7", "#b45309"),
}


class GraphDrawing:
    """An SVG drawing of a graph. Jupyter shows it, and myst-nb puts it into
    the book's pages."""

    def __init__(
        self, svg: str, node_count: int, width: float, height: float
    ) -> None:
        self.svg, self.node_count, self.width, self.height = (
            svg,
            node_count,
            width,
            height,
        )

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> None:
        """Write the SVG to ``path``."""
        Path(path).write_text(self.svg, encoding="utf-8")

    def __repr__(self) -> str:
        return (
            f"<GraphDrawing of {self.node_count} nodes, "
            f"{self.width:g}x{self.height:g} px>"
        )


def draw(
    target: Graph | Node | Iterable[Node],
    *,
    annotations: Mapping[Node, object] | None = None,
    title: str | None = None,
) -> GraphDrawing:
    """Draw a whole ``Graph``, or a node or a list of nodes together with all
    their ancestors.

    ``annotations`` maps nodes to a short text shown in a badge at their
    corner, such as the order in which backpropagation visits them; nodes that
    are not drawn are ignored. ``title`` is what screen readers announce (by
    default, a summary of the nodes).

    >>> from deepscratch import Graph, placeholder
    >>> with Graph().as_default():
    ...     x, y = placeholder(name="x"), placeholder(name="y")
    ...     z = x + y
    >>> drawing = draw(z, annotations={z: "1"})
    >>> "<svg" in drawing.svg and ">add</text>" in drawing.svg
    True
    """
    if isinstance(target, Graph):
        fetches = target.nodes
    else:
        fetches = [target] if isinstance(target, Node) else list(target)
    if not all(isinstance(node, Node) for node in fetches):
        raise TypeError(
            f"draw() takes a Graph, a node or a list of nodes, got {target!r}"
        )
    order = topological_order(fetches)  # every input before its consumers
    labels = {node: _label(node) for node in order}
    layout = _Layout(order, labels, vertical=False)
    if layout.width > MAX_WIDTH:
        vertical = _Layout(order, labels, vertical=True)
        layout = min(layout, vertical, key=lambda candidate: candidate.width)

    body = [
        _edge(layout, *edge, dy)
        for edge, dy in zip(layout.edges, layout.ports, strict=True)
    ]
    for item in [*order, *layout.copies]:
        node = item.node if isinstance(item, _Copy) else item
        body += _node(
            item, labels[node], layout, (annotations or {}).get(node)
        )
    content = "\n".join(body)
    names = [labels[node][0] for node in order]
    summary = (
        ": "
        + ", ".join(names[:TITLE_NAMES])
        + (", ..." if len(names) > TITLE_NAMES else "")
        if names
        else ""
    )
    title = title or f"Computational graph with {len(order)} nodes{summary}"
    # Every SVG of a page shares one namespace of ids: derive the marker's from
    # the content.
    arrow = "arrow-" + hashlib.sha1(content.encode()).hexdigest()[:10]
    w, h = _n(layout.width), _n(layout.height)
    svg = "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
            f' viewBox="0 0 {w} {h}" role="img" aria-label={quoteattr(title)}'
            ' style="max-width: 100%; height: auto"'
            ' font-family="DejaVu Sans, Verdana, Arial, sans-serif">',
            f"<title>{escape(title)}</title>",
            f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="10"'
            ' refY="5" markerWidth="7" markerHeight="7" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{EDGE}"/>'
            "</marker></defs>",
            # A light background keeps the dark text and edges legible on a
            # dark-mode page.
            '<rect class="background" width="100%" height="100%"'
            ' fill="#ffffff" rx="6"/>',
            content.replace("url(#arrow)", f"url(#{arrow})"),
            "</svg>",
        ]
    )
    return GraphDrawing(svg, len(order), float(w), float(h))


class _Copy:
    """Another drawing of ``node``, next to consumers too far from it for an
    edge."""

    def __init__(self, node: Node) -> None:
        self.node = node


class _Layout:
    """Ranks, order within ranks, and coordinates of the nodes, their copies
    and the waypoints.

    Positions are worked out along the ranks (``along``: x when the ranks run
    left to right, y when they run top to bottom) and across them; ``point``
    turns them into x and y.
    """

    def __init__(
        self,
        order: list[Node],
        labels: dict[Node, tuple[str, str | None]],
        vertical: bool,
    ) -> None:
        self.vertical = vertical
        drawn = set(order)
        # of nodes and of waypoints, which are (edge number, rank)
        self.rank: dict = {}
        for node in order:
            inputs = [self.rank[i] for i in node.input_nodes if i in drawn]
            self.rank[node] = 1 + max(inputs, default=-1)
        # An input sits just before its first consumer, not far back.
        for node in order:
            consumers = [self.rank[c] for c in node.consumers if c in drawn]
            if not any(i in drawn for i in node.input_nodes) and consumers:
                self.rank[node] = min(consumers) - 1
        pairs = [(i, n) for n in order for i in n.input_nodes if i in drawn]
        self.copies, drawing = self._copy_far_sources(pairs)
        # (input, consumer, chain of the input or its copy, waypoints and
        # consumer)
        self.edges = []
        # The neighbours of each item in the rank before and in the rank after.
        self.before: dict = {item: [] for item in [*order, *self.copies]}
        self.after: dict = {item: [] for item in [*order, *self.copies]}
        for e, (source, consumer) in enumerate(pairs):
            start = drawing[source, self.rank[consumer]]
            waypoints = [
                (e, r)
                for r in range(self.rank[start] + 1, self.rank[consumer])
            ]
            self.rank.update({waypoint: waypoint[1] for waypoint in waypoints})
            chain = [start, *waypoints, consumer]
            for a, b in pairwise(chain):
                self.before.setdefault(b, []).append(a)
                self.after.setdefault(a, []).append(b)
            self.edges.append((source, consumer, chain))
        self.layers: list[list] = [
            [] for _ in range(max(self.rank.values(), default=-1) + 1)
        ]
        for item, r in self.rank.items():
            self.layers[r].append(item)

        # Waypoints take only a gap.
        self.size = {item: (0.0, 0.0) for item in self.rank}
        for node, (name, kind) in labels.items():
            text = max(len(name) * FONT, len(kind or "") * SMALL) * CHAR
            # An ellipse's text is inset.
            stretch = ELLIPSE_STRETCH if isinstance(node, Operation) else 1.0
            width = max(MIN_WIDTH, text * stretch + PADDING)
            self.size[node] = (width, float(HEIGHT))
        self.size.update({copy: self.size[copy.node] for copy in self.copies})
        # Sweeping ranks forwards (looking at the inputs) then backwards (the
        # consumers).
        self.sweeps = [(layer, self.before) for layer in self.layers[1:]]
        self.sweeps += [(layer, self.after) for layer in self.layers[-2::-1]]
        self._order_ranks()
        self._place()

    def _copy_far_sources(
        self, pairs: list[tuple[Node, Node]]
    ) -> tuple[list[_Copy], dict[tuple[Node, int], Node | _Copy]]:
        """Copies of the nodes whose consumers lie more than ``MAX_SPAN``
        ranks after them (their ranks go into ``self.rank``), and which
        drawing of a node, itself or a copy, feeds its consumers of each
        rank."""
        consumer_ranks: dict[Node, set[int]] = {}
        for source, consumer in pairs:
            consumer_ranks.setdefault(source, set()).add(self.rank[consumer])
        copies: list[_Copy] = []
        drawing = {}
        for source, ranks in consumer_ranks.items():
            current, reach = source, self.rank[source] + MAX_SPAN
            for r in sorted(ranks):
                if r > reach:
                    # A copy just before the first consumer out of reach.
                    current, reach = _Copy(source), r - 1 + MAX_SPAN
                    copies.append(current)
                    self.rank[current] = r - 1
                drawing[source, r] = current
        return copies, drawing

    def extent(self, item: object) -> tuple[float, float]:
        """An item's size along the ranks' direction and across it."""
        width, height = self.size[item]
        return (height, width) if self.vertical else (width, height)

    def point(self, along: float, across: float) -> tuple[float, float]:
        return (across, along) if self.vertical else (along, across)

    def _order_ranks(self) -> None:
        # Sorting each rank by the mean position of its neighbours (the
        # barycenter heuristic) removes most crossings; a few sweeps each way
        # suffice for the book.
        position = {
            item: i for layer in self.layers for i, item in enumerate(layer)
        }
        for _ in range(SWEEPS):
            for layer, neighbours in self.sweeps:
                mean = {
                    it: _mean(
                        [position[n] for n in neighbours[it]], position[it]
                    )
                    for it in layer
                }
                # A stable sort: ties keep their order.
                layer.sort(key=mean.__getitem__)
                position.update({item: i for i, item in enumerate(layer)})

    def _place(self) -> None:
        # Each rank is pulled towards its neighbours, keeping its order and its
        # gaps, so that edges run as straight as they can; the first sweep
        # stacks the ranks.
        across = {item: 0.0 for item in self.rank}
        first = [(layer, self.before) for layer in self.layers]
        for sweeps in [first] + [self.sweeps] * SWEEPS:
            for layer, neighbours in sweeps:
                wanted = [
                    _mean([across[n] for n in neighbours[it]], across[it])
                    for it in layer
                ]
                placed = wanted[:1]
                for (previous, item), want in zip(
                    pairwise(layer), wanted[1:], strict=True
                ):
                    gap = (self.extent(previous)[1] + self.extent(item)[1]) / 2
                    both_nodes = self.size[item][1] and self.size[previous][1]
                    gap += ROW_GAP if both_nodes else EDGE_GAP
                    placed.append(max(want, placed[-1] + gap))
                shift = _mean(
                    [w - p for w, p in zip(wanted, placed, strict=True)], 0.0
                )
                across.update(
                    {
                        item: p + shift
                        for item, p in zip(layer, placed, strict=True)
                    }
                )
        low = min(
            (across[it] - self.extent(it)[1] / 2 for it in across), default=0.0
        )
        self.across = {
            item: value - low + MARGIN for item, value in across.items()
        }
        high = max(
            (self.across[it] + self.extent(it)[1] / 2 for it in across),
            default=0.0,
        )
        # Each rank's start along the ranks, and its extent.
        self.start, along = [], float(MARGIN)
        for layer in self.layers:
            thickness = max(self.extent(item)[0] for item in layer)
            self.start.append((along, thickness))
            along += thickness + RANK_GAP[self.vertical]
        length = (
            along - RANK_GAP[self.vertical] + MARGIN
            if self.layers
            else 2.0 * MARGIN
        )
        self.width, self.height = self.point(length, high + MARGIN)
        # Each input arrives at its own point, so multiply(x, x) shows two
        # distinct edges; the points are in the order of the edges' positions,
        # so that they do not cross.
        self.ports = [0.0] * len(self.edges)
        incoming: dict[Node, list[int]] = {}
        for e, (_, consumer, _) in enumerate(self.edges):
            incoming.setdefault(consumer, []).append(e)
        for consumer, edges in incoming.items():
            edges.sort(key=lambda e: self.across[self.edges[e][2][-2]])
            spacing = min(
                PORT[self.vertical],
                (self.extent(consumer)[1] - PORTS_INSET)
                / max(len(edges) - 1, 1),
            )
            for i, e in enumerate(edges):
                self.ports[e] = (i - (len(edges) - 1) / 2) * spacing
        self.along = {
            item: self.start[r][0] + self.start[r][1] / 2
            for item, r in self.rank.items()
        }
        self.x = {
            item: self.point(self.along[item], self.across[item])[0]
            for item in self.rank
        }
        self.y = {
            item: self.point(self.along[item], self.across[item])[1]
            for item in self.rank
        }


def _edge(
    layout: _Layout,
    source: Node,
    consumer: Operation,
    chain: list,
    offset: float,
) -> str:
    """A smooth path from the end of ``source`` to the start of ``consumer``,
    arriving ``offset`` from the middle of its side."""
    length, breadth = layout.extent(consumer)
    # Where the ellipse's edge is, this far from the middle of its side.
    inset = length / 2 * (1 - (1 - (2 * offset / breadth) ** 2) ** 0.5)
    start = chain[0]  # the source, or its copy
    points = [
        (
            layout.along[start] + layout.extent(start)[0] / 2,
            layout.across[start],
        )
    ]
    # Cross each waypoint's rank straight, at its place.
    for waypoint in chain[1:-1]:
        start, thickness = layout.start[waypoint[1]]
        points += [
            (start, layout.across[waypoint]),
            (start + thickness, layout.across[waypoint]),
        ]
    points.append(
        (
            layout.along[consumer] - length / 2 + inset,
            layout.across[consumer] + offset,
        )
    )

    def xy(along: float, across: float) -> str:
        x, y = layout.point(along, across)
        return f"{_n(x)},{_n(y)}"

    d = f"M{xy(*points[0])}"
    for i, ((a0, c0), (a1, c1)) in enumerate(pairwise(points)):
        middle = (
            a0 + a1
        ) / 2  # tangents along the ranks at both ends make a smooth S
        end = xy(a1, c1)
        d += (
            f" L{end}"
            if i % 2
            else f" C{xy(middle, c0)} {xy(middle, c1)} {end}"
        )
    return (
        f'<path class="edge" d="{d}" fill="none" stroke="{EDGE}"'
        f' stroke-width="{STROKE}" marker-end="url(#arrow)"/>'
    )


def _node(
    item: Node | _Copy,
    label: tuple[str, str | None],
    layout: _Layout,
    note: object,
) -> list[str]:
    """The shape, label and badge of a node or of its copy, in a group titled
    with its full name."""
    (name, kind), (w, h), x, y = (
        label,
        layout.size[item],
        layout.x[item],
        layout.y[item],
    )
    copy = isinstance(item, _Copy)
    node = item.node if copy else item
    fill, stroke = next(
        style for cls, style in STYLES.items() if isinstance(node, cls)
    )
    if isinstance(node, Operation):
        css = "operation"
        shape = (
            f'<ellipse cx="{_n(x)}" cy="{_n(y)}"'
            f' rx="{_n(w / 2)}" ry="{_n(h / 2)}"'
        )
    else:
        css = type(node).__name__
        shape = (
            f'<rect x="{_n(x - w / 2)}" y="{_n(y - h / 2)}"'
            f' width="{_n(w)}" height="{_n(h)}"'
        )
        shape += f' rx="{CORNER}"'
    title = node.name
    if copy:  # the same node: its name, its label and colours, dashed
        css, title, shape = (
            css + " copy",
            title + " (drawn again)",
            shape + ' stroke-dasharray="5,3"',
        )
    lines = [
        f'<g class="node {css}"><title>{escape(title)}</title>',
        f'{shape} fill="{fill}" stroke="{stroke}" stroke-width="{STROKE}"/>',
    ]
    if kind is None:
        lines.append(_text(x, y + FONT * BASELINE, FONT, name))
    else:
        lines += [
            _text(x, y - NAME_RISE, FONT, name),
            _text(x, y + TYPE_DROP, SMALL, kind, "#374151"),
        ]
    if note is not None:
        badge = max(BADGE, len(str(note)) * SMALL * CHAR + BADGE_PADDING)
        # A pill on the top right corner.
        bx, by = x + w / 2 - badge / 2, y - h / 2
        lines.append(
            f'<rect class="badge" x="{_n(bx - badge / 2)}"'
            f' y="{_n(by - BADGE / 2)}" width="{_n(badge)}"'
            f' height="{_n(BADGE)}" rx="{_n(BADGE / 2)}" fill="#1e3a8a"/>'
        )
        lines.append(
            _text(
                bx,
                by + BADGE_BASELINE,
                SMALL,
                str(note),
                "#ffffff",
                ' font-weight="bold"',
            )
        )
    return [*lines, "</g>"]


def _label(node: Node) -> tuple[str, str | None]:
    """A node's name, and an operation's type to show under it (None when not
    needed)."""
    kind = type(node).__name__
    automatic = re.fullmatch(re.escape(kind) + r"_\d+", node.name) is not None
    if isinstance(node, Operation):
        return (kind, None) if automatic else (node.name, kind)
    # The 2 of ``2 * x`` reads best as "2".
    if isinstance(node, constant) and automatic:
        return (
            f"{node.value.item():g}" if node.value.size == 1 else "constant"
        ), None
    return node.name, None


def _text(
    x: float, y: float, size: int, text: str, fill: str = TEXT, extra: str = ""
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}"'
        f' text-anchor="middle" fill="{fill}"{extra}>{escape(text)}</text>'
    )


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _n(value: float) -> str:
    """A coordinate with one decimal at most: short, and the same in every
    process."""
    return f"{round(value, 1) + 0.0:g}"
