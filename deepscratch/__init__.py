"""deepscratch: the deep-learning library built in
*Deep Learning From Scratch*.

A TensorFlow-1-style computational graph engine in plain numpy::

    import deepscratch as ds
    ds.Graph().as_default()
    x = ds.placeholder(name="x")
    ...
    ds.Session().run(output, feed_dict={x: ...})
"""

from . import datasets, plotting, train
from .convolution import conv2d, max_pool, reshape, transpose
from .drawing import draw
from .gradients import RegisterGradient, compute_gradients, unbroadcast
from .graph import (
    Graph,
    MissingFeedError,
    Operation,
    Variable,
    constant,
    get_default_graph,
    placeholder,
)
from .operations import (
    add,
    dropout,
    dropout_mask,
    exp,
    log,
    matmul,
    multiply,
    negative,
    random_normal,
    reduce_mean,
    reduce_sum,
    relu,
    sample_normal,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    tanh,
)
from .sequences import concat, index, stack
from .session import Session

__all__ = [
    "Graph",
    "MissingFeedError",
    "Operation",
    "RegisterGradient",
    "Session",
    "Variable",
    "add",
    "compute_gradients",
    "concat",
    "constant",
    "conv2d",
    "datasets",
    "draw",
    "dropout",
    "dropout_mask",
    "exp",
    "get_default_graph",
    "index",
    "log",
    "matmul",
    "max_pool",
    "multiply",
    "negative",
    "placeholder",
    "plotting",
    "random_normal",
    "reduce_mean",
    "reduce_sum",
    "relu",
    "reshape",
    "sample_normal",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "stack",
    "tanh",
    "train",
    "transpose",
    "unbroadcast",
]
