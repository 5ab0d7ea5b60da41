"""The operations of a convolutional network, each followed by its gradient.

Images are arrays of shape ``(N, H, W, C)``: N images, H rows, W columns, C
channels (channels last, as in TensorFlow 1). A convolution and a pooling
step both look at every window of an image:
:func:`~deepscratch.convolution.patches` gives all the windows as one strided
view of the (padded) images (im2col), so that a convolution is one product of
matrices, and :func:`~deepscratch.convolution.col2im` adds gradients back into
the images, one window offset at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .gradients import RegisterGradient
from .graph import Operation, is_integer, who


class conv2d(Operation):
    """Cross-correlation (frameworks say convolution) of images X (N, H, W,
    C_in) with a kernel K (kh, kw, C_in, C_out): every window times K, summed.

    >>> from deepscratch import Session, constant
    >>> X = constant(np.arange(3.0).reshape(1, 1, 3, 1))
    >>> Session().run(conv2d(X, constant(np.ones((1, 2, 1, 1)))))[..., 0]
    array([[[1., 3.]]])
    """

    def __init__(
        self,
        X: Any,
        K: Any,
        *,
        stride: int = 1,
        padding: int = 0,
        name: str | None = None,
    ) -> None:
        self.stride, self.padding = _window_settings(name, stride, padding)
        super().__init__([X, K], name)

    def compute(self, X_value: np.ndarray, K_value: np.ndarray) -> np.ndarray:
        windows = conv2d_patches(X_value, K_value, self.stride, self.padding)
        return np.tensordot(windows, K_value, axes=3)  # kh, kw, C_in summed


@RegisterGradient("conv2d")
def _conv2d_gradient(
    op: conv2d,
    grad: np.ndarray,
    output: np.ndarray,
    X: np.ndarray,
    K: np.ndarray,
):
    # Each output entry is a window times K. So each window gets back K
    # weighted by its output's gradient, added into the images where the
    # window came from (windows overlap); and K's gradient is the sum of the
    # windows, each weighted by its output's gradient.
    windows = conv2d_patches(X, K, op.stride, op.padding)
    return (
        lambda: col2im(
            np.tensordot(grad, K, axes=(3, 3)), X.shape, op.stride, op.padding
        ),
        lambda: np.tensordot(windows, grad, axes=([0, 1, 2], [0, 1, 2])),
    )


def _window_settings(
    name: str | None, stride: Any, padding: Any
) -> tuple[int, int]:
    """conv2d's stride and padding, checked before the node joins."""
    return (
        _setting("conv2d", name, "stride", stride, minimum=1),
        _setting("conv2d", name, "padding", padding, minimum=0),
    )


def conv2d_patches(
    X: np.ndarray, K: np.ndarray, stride: int, padding: int
) -> np.ndarray:
    """The windows of ``X`` that :class:`~deepscratch.conv2d` multiplies by
    ``K``, after checking that the two fit."""
    if np.ndim(X) != 4 or np.ndim(K) != 4:
        raise ValueError(
            "conv2d takes images X of shape (N, H, W, C_in) and a kernel K "
            "of shape (kh, kw, C_in, C_out)"
        )
    if X.shape[3] != K.shape[2]:
        raise ValueError(
            f"the images have {X.shape[3]} channels, but the kernel is made "
            f"for {K.shape[2]} (K.shape[2])"
        )
    return patches(X, K.shape[:2], stride, padding)


def patches(
    X: np.ndarray, window: tuple[int, int], stride: int, padding: int = 0
) -> np.ndarray:
    """Every ``window``-sized (kh, kw) patch of the images ``X`` (N, H, W,
    C), padded with ``padding`` zeros on each side and taken every ``stride``
    pixels: a view of shape (N, H_out, W_out, kh, kw, C), where
    ``H_out = (H + 2 * padding - kh) // stride + 1`` (W_out likewise); rows
    and columns left over at the bottom and right are in no patch. This is
    im2col without the copy: the padded images are copied, the patches are
    not, until a product reads them.
    """
    kh, kw = window
    H, W = X.shape[1] + 2 * padding, X.shape[2] + 2 * padding
    if kh > H or kw > W:
        raise ValueError(
            f"the {kh}x{kw} window is larger than the images, {H}x{W} "
            f"with padding {padding}"
        )
    if padding:
        pad = (padding, padding)
        X = np.pad(X, ((0, 0), pad, pad, (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(1, 2))
    # (N, H - kh + 1, W - kw + 1, C, kh, kw): every pixel's window; keep
    # those a stride apart and put the channels last.
    return view[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def col2im(
    columns: np.ndarray, shape: tuple[int, ...], stride: int, padding: int
) -> np.ndarray:
    """The reverse of :func:`~deepscratch.convolution.patches`: an array of
    ``shape`` (N, H, W, C) in which every entry of ``columns`` (N, H_out,
    W_out, kh, kw, C) is added to the pixel of the window it stands for;
    what falls on the padding is dropped. One step for each of the kh * kw
    offsets in a window, each adding to all windows at once."""
    N, H, W, C = shape
    _, H_out, W_out, kh, kw, _ = columns.shape
    p, s = padding, stride
    padded = np.zeros((N, H + 2 * p, W + 2 * p, C))
    for i in range(kh):
        for j in range(kw):
            rows, cols = slice(i, i + s * H_out, s), slice(j, j + s * W_out, s)
            padded[:, rows, cols] += columns[:, :, :, i, j]
    return padded[:, p : p + H, p : p + W]


class max_pool(Operation):
    """The largest entry of each channel in every ``size x size`` window of
    the images ``X`` (N, H, W, C), ``stride`` (by default ``size``) apart.

    >>> from deepscratch import Session, constant
    >>> X = constant(np.arange(8.0).reshape(1, 2, 4, 1))
    >>> Session().run(max_pool(X, size=2))[..., 0]
    array([[[5., 7.]]])
    """

    def __init__(
        self,
        X: Any,
        *,
        size: int = 2,
        stride: int | None = None,
        name: str | None = None,
    ) -> None:
        self.size = _setting("max_pool", name, "size", size, minimum=1)
        stride = size if stride is None else stride
        self.stride = _setting("max_pool", name, "stride", stride, minimum=1)
        super().__init__([X], name)

    def compute(self, X_value: np.ndarray) -> np.ndarray:
        return pool_windows(X_value, self.size, self.stride).max(axis=(3, 4))


@RegisterGradient("max_pool")
def _max_pool_gradient(
    op: max_pool, grad: np.ndarray, output: np.ndarray, X: np.ndarray
):
    # Only the largest entry of a window reached the output, so only it gets
    # the output's gradient. Of equal largest entries, argmax picks the first
    # in reading order: the topmost, then the leftmost.
    windows = pool_windows(X, op.size, op.stride)
    N, H_out, W_out, size, _, C = windows.shape
    flat = windows.reshape(N, H_out, W_out, size * size, C)
    first = flat.argmax(axis=3)[:, :, :, np.newaxis]  # one per window
    winner = np.arange(size * size)[:, np.newaxis] == first
    columns = winner * grad[:, :, :, np.newaxis]
    shape = (N, H_out, W_out, size, size, C)
    return col2im(columns.reshape(shape), X.shape, op.stride, 0)


def pool_windows(X: np.ndarray, size: int, stride: int) -> np.ndarray:
    """The windows :class:`~deepscratch.max_pool` takes the maximum of."""
    if np.ndim(X) != 4:
        raise ValueError("max_pool takes images of shape (N, H, W, C)")
    return patches(X, (size, size), stride)


class reshape(Operation):
    """``x`` with its entries, in the same order, arranged in ``shape`` (one
    entry of it may be -1: whatever size makes the count right). It turns a
    convolutional layer's feature maps into the rows a dense layer reads.

    >>> from deepscratch import Session, constant
    >>> Session().run(reshape(constant([[1, 2], [3, 4]]), (4,)))
    array([1., 2., 3., 4.])
    """

    def __init__(self, x: Any, shape: Any, *, name: str | None = None) -> None:
        self.new_shape = _axes("reshape", name, "shape", shape)
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return np.reshape(x_value, self.new_shape)


@RegisterGradient("reshape")
def _reshape_gradient(
    op: reshape, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    return np.reshape(grad, np.shape(x))  # each entry back in its place


class transpose(Operation):
    """``x`` with its axes in the order ``axes`` (by default reversed; for a
    matrix, the transpose).

    >>> from deepscratch import Session, constant
    >>> Session().run(transpose(constant([[1, 2, 3]])))
    array([[1.],
           [2.],
           [3.]])
    """

    def __init__(
        self, x: Any, axes: Any = None, *, name: str | None = None
    ) -> None:
        if axes is not None:
            axes = _axes("transpose", name, "axes", axes)
        self.axes = axes
        super().__init__([x], name)

    def compute(self, x_value: np.ndarray) -> np.ndarray:
        return np.transpose(x_value, self.axes)


@RegisterGradient("transpose")
def _transpose_gradient(
    op: transpose, grad: np.ndarray, output: np.ndarray, x: np.ndarray
):
    if op.axes is None:
        return np.transpose(grad)  # reversing the axes undoes itself
    # Put each axis back where it came from: the inverse permutation.
    return np.transpose(grad, np.argsort(np.mod(op.axes, grad.ndim)))


def _setting(
    kind: str, name: str | None, what: str, value: Any, minimum: int
) -> int:
    """``value``, if it is an integer of at least ``minimum``; an error
    that names the operation otherwise. Checked before the node joins its
    graph, so that a bad setting leaves nothing behind."""
    if not is_integer(value):
        raise TypeError(
            f"{who(kind, name)}: {what} must be an integer, got {value!r}"
        )
    if value < minimum:
        raise ValueError(
            f"{who(kind, name)}: {what} must be at least {minimum}, "
            f"got {value!r}"
        )
    return int(value)


def _axes(kind: str, name: str | None, what: str, value: Any) -> tuple:
    """``value`` (an integer or a sequence of them) as a tuple of ints."""
    items = value if isinstance(value, tuple | list) else (value,)
    if not all(is_integer(i) for i in items):
        raise TypeError(
            f"{who(kind, name)}: {what} must be integers, got {value!r}"
        )
    return tuple(int(i) for i in items)
