"""The graph optimiser: the nodes a run needs, rewritten
(:mod:`~deepscratch.rewrites`) and compiled into a plan -- one flat list of
instructions over numbered slots, for the forward pass and for
backpropagation alike."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from types import CodeType
from typing import Any, NamedTuple

import numpy as np

from .gradients import (
    GradientTable,
    checked_shares,
    gradient_function,
    gradient_table,
)
from .graph import (
    Node,
    Operation,
    ShapeError,
    Variable,
    constant,
    explained_call,
    placeholder,
    read_only,
    shape_error,
)
from .rewrites import REWRITES, computation, rewrite
from .train import all_finite, check_loss, checked_update, minimization

Function = Callable[..., Any]
Slots = tuple[int, ...]


class Instruction(NamedTuple):
    """Put ``compute(*values in slots inputs)`` in slot ``output`` (or, for
    a tuple of slots, one result in each)."""

    node: Node | None  # the node it computes, named in errors
    compute: Function
    inputs: Slots
    output: int | Slots
    # For backpropagation: called as gradient(shares_for, grad, output,
    # *inputs), it gives the shares of the inputs that shares_for names.
    gradient: Function | None = None


class NotCompilableError(Exception):
    """A node whose value only its own ``evaluate`` knows how to compute."""


class Program:
    """The instructions of a plan as they are written, before the unused ones
    are dropped, making the ``rewrites`` named (all of
    :data:`~deepscratch.rewrites.REWRITES`, or some, or none: the graph exactly
    as built)."""

    def __init__(self, rewrites: Collection[str] = REWRITES) -> None:
        self.rewrites = set(rewrites)
        self.instructions: list[Instruction] = []
        self.slot: dict[Node, int] = {}  # where each node's value goes
        self.node_of: list[Node | None] = []  # which node fills each slot
        self.constants: dict[int, Any] = {}
        self.leaves: dict[int, Node] = {}  # placeholders and Variables
        self.known: dict[Any, int] = {}  # computation -> slot, see emit()

    def new_slot(self, node: Node | None) -> int:
        self.node_of.append(node)
        return len(self.node_of) - 1

    def add(self, node: Node) -> None:
        """Write the instructions that compute ``node``, whose inputs are
        written already."""
        if isinstance(node, placeholder | Variable):
            self.slot[node] = self.new_slot(node)
            self.leaves[self.slot[node]] = node
        elif isinstance(node, constant):
            self.slot[node] = self.constant(node, node.value)
        elif isinstance(node, minimization):
            self.slot[node] = self.training_step(node)
        elif isinstance(node, gradient_table):
            self.slot[node] = self.gradient_table(node)
        elif type(node).evaluate is Operation.evaluate:
            self.slot[node] = self.operation(node)
        else:
            raise NotCompilableError(node)

    def operation(self, op: Operation) -> int:
        """Write ``op``, or what :func:`~deepscratch.rewrites.rewrite` computes
        in its place."""
        rewritten = rewrite(op) if "patterns" in self.rewrites else None
        if rewritten is None:
            rewritten = op.compute, op.input_nodes, None
        compute, inputs, gradient = rewritten
        slots = tuple(self.slot[node] for node in inputs)
        gradient = gradient or registered_gradient(op)
        return self.emit(op, compute, slots, gradient)

    def emit(
        self,
        op: Operation,
        compute: Function,
        inputs: Slots,
        gradient: Function,
    ) -> int:
        """The slot of ``compute(*inputs)``: a new instruction, unless the
        value is known before any run (constant folding) or an earlier
        instruction computes it (common-subexpression elimination)."""
        if self.foldable(op, inputs):
            values = [self.constants[slot] for slot in inputs]
            return self.constant(op, explained_call(op, compute, values))
        key = None
        if "duplicates" in self.rewrites:
            key = computation(op, compute, inputs)  # None: not comparable
        if key in self.known:
            return self.known[key]
        output = self.new_slot(op)
        self.instructions.append(
            Instruction(op, compute, inputs, output, gradient)
        )
        if key is not None:
            self.known[key] = output
        return output

    def foldable(self, op: Operation, inputs: Slots) -> bool:
        """Can ``op`` be computed before the run? Not if it draws random
        numbers (it has a random stream, an ``rng``)."""
        return (
            "constants" in self.rewrites
            and all(slot in self.constants for slot in inputs)
            and not hasattr(op, "rng")
        )

    def constant(self, node: Node, value: Any) -> int:
        """A slot holding ``value`` before the run begins; one slot for equal
        values."""
        value = read_only(np.asarray(value))
        key = ("constant", value.dtype, value.shape, value.tobytes())
        if "duplicates" in self.rewrites and key in self.known:
            return self.known[key]
        slot = self.new_slot(node)
        self.constants[slot] = value
        self.known[key] = slot
        return slot

    def append(
        self, node: Node | None, compute: Function, inputs: Slots
    ) -> int:
        """A new instruction, on a new slot, that is not differentiated."""
        output = self.new_slot(node)
        self.instructions.append(Instruction(node, compute, inputs, output))
        return output

    def training_step(self, step: minimization) -> int:
        """Check the loss, backpropagate to the Variables, make the update
        (which the session applies after the run)."""
        loss, leaves = self.slot[step.loss], list(self.leaves.items())
        check = loss_check(step.loss, [node for _, node in leaves])
        checked = self.append(step, check, (loss, *[s for s, _ in leaves]))
        trained = {s for s, node in leaves if isinstance(node, Variable)}
        grads = self.differentiate(loss, trained.__contains__)
        variables = [slot for slot in grads if slot in trained]
        update = functools.partial(
            update_of, step, [self.node_of[slot] for slot in variables]
        )
        return self.append(
            step, update, (loss, checked, *[grads[s] for s in variables])
        )

    def gradient_table(self, table: gradient_table) -> int:
        grads = self.differentiate(self.slot[table.loss], lambda slot: True)
        nodes = [self.node_of[slot] for slot in grads]
        gradients = functools.partial(table_of, table.loss, nodes)
        return self.append(table, gradients, tuple(grads.values()))

    def differentiate(
        self, loss: int, is_source: Callable[[int], bool]
    ) -> dict[int, int]:
        """Write backpropagation from slot ``loss``: the slot of the gradient
        of every slot between a source and the loss, in the order
        :func:`~deepscratch.gradients.backpropagate` hands them out."""
        forward = [i for i in self.instructions if i.gradient is not None]
        needs = {slot for slot in range(len(self.node_of)) if is_source(slot)}
        for instruction in forward:
            if any(slot in needs for slot in instruction.inputs):
                needs.add(instruction.output)
        grads = {loss: self.append(None, ones_like, (loss,))}
        reached, order = {loss}, []
        for instruction in reversed(forward):
            if (
                instruction.output not in reached
                or instruction.output not in needs
            ):
                continue
            reached.update(instruction.inputs)
            order.append(instruction.output)
            self.backward(instruction, needs, grads)
        order += [slot for slot in grads if slot not in order]
        return {slot: grads[slot] for slot in order if slot in needs}

    def backward(
        self, instruction: Instruction, needs: set[int], grads: dict[int, int]
    ) -> None:
        """Write the instruction that passes the gradient of ``instruction``'s
        output back to its inputs that need one, and the sums of shares."""
        inputs = instruction.inputs
        shares_for = tuple(
            self.node_of[slot] if slot in needs else None for slot in inputs
        )
        needing = [slot for slot in inputs if slot in needs]
        shares = tuple(self.new_slot(None) for _ in needing)
        self.instructions.append(
            Instruction(
                instruction.node,
                functools.partial(instruction.gradient, shares_for),
                (grads[instruction.output], instruction.output, *inputs),
                shares,
            )
        )
        for slot, share in zip(needing, shares, strict=True):
            if slot in grads:  # a second path: the shares add up
                grads[slot] = self.append(None, np.add, (grads[slot], share))
            else:
                grads[slot] = share


def registered_gradient(op: Operation) -> Function:
    """The op's registered gradient function, as a plan calls it: it gives
    the shares of the inputs that ``shares_for`` names, checked. If the op
    has none, a function that says so when backpropagation calls it."""
    try:
        function = gradient_function(op)
    except LookupError as error:
        missing = error

        def no_gradient(*args: Any) -> Any:
            raise missing

        return no_gradient

    def gradient(shares_for, grad, output, *inputs) -> list[np.ndarray]:
        shares = function(op, grad, output, *inputs)
        if len(inputs) == 1:
            shares = (shares,)
        return checked_shares(op, shares, list(inputs), shares_for)

    return gradient


#: The gradient of a loss of one number with respect to itself.
ONE = read_only(np.array(1.0))


def ones_like(value: Any) -> np.ndarray:
    """``np.ones_like(value)``, the gradient that starts backpropagation;
    for the usual loss, one number, the same array every run."""
    return ONE if isinstance(value, float) else np.ones_like(value)


def update_of(
    step: minimization, variables: list[Node], loss_value: Any, _: Any, *grads
) -> Any:
    """A training step's update, from its loss and the Variables' gradients
    (``_`` is the loss check's slot, read so that the check comes first)."""
    pairs = list(zip(variables, grads, strict=True))
    return checked_update(step, loss_value, pairs)


def table_of(loss: Node, nodes: list[Node], *grads: Any) -> GradientTable:
    return GradientTable(loss, zip(nodes, grads, strict=True))


def loss_check(loss: Node, leaves: list[Node]) -> Callable[..., None]:
    """What :func:`~deepscratch.train.check_loss` checks, before any
    gradient is computed; the leaves' values name the cause."""

    def check(loss_value: Any, *leaf_values: Any) -> None:
        if not all_finite(loss_value):
            check_loss(
                loss,
                {
                    loss: loss_value,
                    **dict(zip(leaves, leaf_values, strict=True)),
                },
            )

    return check


class Plan:
    """The instructions that compute ``fetches``, written out as the source
    of one Python function, which each run calls."""

    def __init__(
        self,
        order: list[Node],
        fetches: list[Node],
        rewrites: Collection[str] = REWRITES,
    ) -> None:
        program = Program(rewrites)
        for node in order:
            program.add(node)
        updates = [n for n in order if isinstance(n, minimization)]
        results = [(n, program.slot[n]) for n in updates + fetches]
        wanted = {slot for _, slot in results}
        self.instructions = used(program.instructions, wanted)
        self.leaves = list(program.leaves.items())
        self.nodes = [node for node, _ in results]
        self.source, self.owners = python_source(
            self.instructions,
            [slot for slot, _ in self.leaves],
            [slot for _, slot in results],
            keep=wanted | set(program.constants),
        )
        namespace = {f"s{slot}": v for slot, v in program.constants.items()}
        for i, instruction in enumerate(self.instructions):
            namespace[f"f{i}"] = instruction.compute
        exec(compile(self.source, "<plan>", "exec"), namespace)
        if padding := own_chunk_padding(namespace["plan"].__code__):
            self.source += padding
            exec(compile(self.source, "<plan>", "exec"), namespace)
        self.function = namespace["plan"]

    def run(self, fed: dict[Node, Any]) -> dict[Node, Any]:
        """The values of the fetches (and training steps) in one run."""
        leaf_values = [
            fed[leaf] if leaf in fed else leaf.evaluate(fed)
            for _, leaf in self.leaves
        ]
        try:
            values = self.function(*leaf_values)
        except ShapeError:
            raise  # explained already, inside a rewritten step
        except ValueError as error:
            raise self.explained(error) from error
        return dict(zip(self.nodes, values, strict=True))

    def explained(self, error: ValueError) -> ValueError:
        """``error`` with the operation that raised it named, with the shapes
        of its inputs, found from the line of the plan that failed."""
        traceback = error.__traceback__
        while (
            traceback
            and traceback.tb_frame.f_code is not self.function.__code__
        ):
            traceback = traceback.tb_next
        if traceback is None:
            return error
        instruction = self.instructions[self.owners[traceback.tb_lineno - 1]]
        if not isinstance(instruction.output, int):
            return error  # backpropagation: its message says what failed
        frame = traceback.tb_frame  # constants are globals, the rest local
        slots = frame.f_globals | frame.f_locals
        inputs = [slots[f"s{i}"] for i in instruction.inputs]
        return shape_error(instruction.node, inputs, error)


#: CPython keeps the local variables of the running functions on a stack of
#: 16 KB chunks, and frees a chunk as soon as the call at its base returns. A
#: plan whose frame nearly fills what is left of a chunk makes each of its
#: calls straddle the boundary, allocating and freeing a chunk every time: in
#: a Jupyter kernel, whose stack is deeper than a script's, that made chapter
#: 17's GRU train at half speed. (python/cpython#142183; fixed in 3.13 and
#: 3.14 in 2026, not in 3.11 or 3.12.)
CHUNK_SLOTS = 16 * 1024 // 8
#: Frames at least this large (in slots) start a chunk of their own.
LARGE_FRAME = 512


def own_chunk_padding(code: CodeType) -> str:
    """For a plan function with a large frame, a line that is never run but
    declares enough unused locals to make the frame larger than a chunk: it
    then always starts a fresh chunk, sized with room for all its calls.
    (One chunk per run costs a large plan nothing it would notice.)"""
    slots = code.co_nlocals + code.co_stacksize
    if slots < LARGE_FRAME:
        return ""
    names = [f"unused{i}" for i in range(max(0, CHUNK_SLOTS - slots) + 1)]
    return f"    if False:\n        {' = '.join(names)} = None\n"


def used(
    instructions: list[Instruction], wanted: set[int]
) -> list[Instruction]:
    """The instructions some wanted slot depends on (dead-code
    elimination)."""
    wanted, kept = set(wanted), []
    for instruction in reversed(instructions):
        if any(slot in wanted for slot in outputs(instruction)):
            kept.append(instruction)
            wanted.update(instruction.inputs)
    return kept[::-1]


def outputs(instruction: Instruction) -> tuple[int, ...]:
    output = instruction.output
    return output if isinstance(output, tuple) else (output,)


def python_line(index: int, instruction: Instruction) -> str:
    """``s5 = f1(s3, s4)``; for backpropagation, one slot for each share,
    ``s9, s10 = f6(s8, s5, s3, s4)``."""
    arguments = ", ".join(f"s{slot}" for slot in instruction.inputs)
    output = instruction.output
    if isinstance(output, tuple):
        names = ", ".join(f"s{slot}" for slot in output)
        output = f"[{names}]" if len(output) == 1 else names
    else:
        output = f"s{output}"
    return f"{output} = f{index}({arguments})"


def python_source(
    instructions: list[Instruction],
    leaves: list[int],
    results: list[int],
    keep: set[int],
) -> tuple[str, list[int]]:
    """The plan as a function, each instruction's line followed by ``del``
    of the slots no later line reads, so that their memory is freed at once;
    and for each line of it, the instruction it belongs to."""
    last_reader = {}
    for index, instruction in enumerate(instructions):
        for slot in instruction.inputs:
            last_reader[slot] = index
    lines, owners = [f"def plan({', '.join(f's{s}' for s in leaves)}):"], [-1]
    for index, instruction in enumerate(instructions):
        statements = [python_line(index, instruction)]
        done = {s for s in instruction.inputs if last_reader[s] == index}
        if done - keep:
            statements.append(
                f"del {', '.join(f's{s}' for s in sorted(done - keep))}"
            )
        lines += [f"    {line}" for line in statements]
        owners += [index] * len(statements)
    lines.append(f"    return ({''.join(f's{slot}, ' for slot in results)})")
    return "\n".join(lines) + "\n", owners
