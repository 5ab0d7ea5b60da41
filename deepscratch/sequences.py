"""The operations of a recurrent network, each followed by its gradient:
:class:`~deepscratch.index` takes one step of a sequence out of an array
(``x[:, t]`` on a node builds it), :class:`~deepscratch.stack` and
:class:`~deepscratch.concat` put arrays together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .gradients import RegisterGradient
from .graph import OPERATORS, Operation, is_integer, who


class index(Operation):
    """``x[key]``, with numpy's indexing: ``x[:, t]``, ``x[1:-1:2]``,
    ``x[..., 0]``, or a list of positions. ``node[key]`` builds one.

    >>> from deepscratch import Session, constant
    >>> Session().run(constant([[1, 2, 3], [4, 5, 6]])[:, 1])
    array([2., 5.])
    """

    def __init__(self, x: Any, key: Any, *, name: str | None = None) -> None:
        self.key = _checked_key(key, name)
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        try:
            return x_value[self.key]
        except IndexError as error:  # reported with the node and the shape
            raise ValueError(
                f"cannot index with {self.key!r}: {error}"
            ) from error


@RegisterGradient("index")
def _index_gradient(
    op: index, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    # Each picked entry gets its output's gradient, the others none. A list
    # of positions may pick an entry twice: add.at adds both gradients.
    share = np.zeros(np.shape(x))
    np.add.at(share, op.key, grad)
    return share


class stack(Operation):
    """The arrays ``xs``, all of one shape, stacked along a new ``axis``.

    >>> from deepscratch import Session, constant
    >>> Session().run(stack([constant([1, 2]), constant([3, 4])], axis=1))
    array([[1., 3.],
           [2., 4.]])
    """

    def __init__(
        self, xs: Sequence[Any], axis: int = 0, *, name: str | None = None
    ) -> None:
        self.axis = _checked_axis("stack", name, axis)
        super().__init__(_some("stack", name, xs), name)

    def compute(self, *x_values: np.ndarray) -> np.ndarray:
        return np.stack(x_values, axis=self.axis)


@RegisterGradient("stack")
def _stack_gradient(op: stack, grad: np.ndarray, output: np.ndarray, *xs):
    # Each array gets back its own slice of the gradient.
    return tuple(np.moveaxis(grad, op.axis, 0))


class concat(Operation):
    """The arrays ``xs`` joined end to end along an existing ``axis``; they
    may differ in length along it, not along the other axes.

    >>> from deepscratch import Session, constant
    >>> Session().run(concat([constant([[1]]), constant([[2, 3]])], axis=1))
    array([[1., 2., 3.]])
    """

    def __init__(
        self, xs: Sequence[Any], axis: int = 0, *, name: str | None = None
    ) -> None:
        self.axis = _checked_axis("concat", name, axis)
        super().__init__(_some("concat", name, xs), name)

    def compute(self, *x_values: np.ndarray) -> np.ndarray:
        return np.concatenate(x_values, axis=self.axis)


@RegisterGradient("concat")
def _concat_gradient(op: concat, grad: np.ndarray, output: np.ndarray, *xs):
    # Cut the gradient where the arrays were joined.
    ends = np.cumsum([np.shape(x)[op.axis] for x in xs])
    return tuple(np.split(grad, ends[:-1], axis=op.axis))


def _checked_key(key: Any, name: str | None) -> Any:
    """``key``, if numpy reads it as an index of integers, slices, ``...``
    and ``None``, or of arrays of positions; an error naming the node
    otherwise. Lists become arrays, so that the key means what it means
    to numpy (and can be compared)."""
    items = key if isinstance(key, tuple) else (key,)
    checked = []
    for item in items:
        if isinstance(item, list | np.ndarray):
            item = np.asarray(item)
            if item.dtype.kind not in "iu" and item.size:
                raise TypeError(
                    f"{who('index', name)}: positions must be integers, "
                    f"got {item.tolist()!r}"
                )
            item = item.astype(np.intp)
        elif not _is_basic(item):
            raise TypeError(
                f"{who('index', name)}: cannot index with {item!r}; use "
                "integers, slices, ..., None or lists of positions"
            )
        checked.append(item)
    return tuple(checked) if isinstance(key, tuple) else checked[0]


def _is_basic(item: Any) -> bool:
    """An integer, ``...``, ``None``, or a slice of integers and Nones."""
    if isinstance(item, slice):
        parts = (item.start, item.stop, item.step)
        return all(part is None or is_integer(part) for part in parts)
    return item is Ellipsis or item is None or is_integer(item)


def _checked_axis(kind: str, name: str | None, axis: Any) -> int:
    if not is_integer(axis):
        raise TypeError(
            f"{who(kind, name)}: axis must be an integer, got {axis!r}"
        )
    return int(axis)


def _some(kind: str, name: str | None, xs: Any) -> list[Any]:
    """The inputs of a stack or concat: a list or tuple of at least one."""
    if not isinstance(xs, list | tuple) or not xs:
        raise TypeError(
            f"{who(kind, name)} takes a list of nodes or arrays, got {xs!r}"
        )
    return list(xs)


OPERATORS.update(index=index)
