"""``make bench``: deepscratch against a hand-written numpy reference (and PyTorch, if installed).

Each engine trains the same MLP from the same initial weights on the same batches in the same
order, in float64: W1-W3 are the early chapters' networks (sigmoid hidden layers, a softmax
output layer, ``J = -sum(c * log(p))``, full-batch gradient descent), W4 is the digits
chapter's (a ReLU hidden layer, the mean cross-entropy, Adam on mini-batches). One deepscratch
step is ``session.run([J, train_op], feed)``. An engine whose final loss and weights disagree
with the reference is reported wrong and not timed; the others are timed in turns, in one
process. Then the peak memory of a W3 run, the book's cold build and unchanged rebuild
(``--no-book`` skips them) and one run of the test suite (``--no-tests`` skips it). The report
is a table and one line of JSON. benchmarks/README.md says how to read it.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import gc
import itertools
import json
import os
import platform
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from numpy_reference import NumpyMLP

import deepscratch as ds

ROOT = Path(__file__).resolve().parent.parent
IDLE_SECONDS = 0.3  # between timed runs, see benchmark_workload
AGREEMENT = 1e-6  # the largest relative difference from the reference that counts as agreeing
# deepscratch / numpy, the median over the repeats of the ratio within each repeat
SPEED_TARGETS = {"W1": 1.5, "W2": 1.2, "W3": 1.1, "W4": 1.5}
MEMORY_TARGET = 1.2  # W3's peak memory, deepscratch / numpy
COLD_BUILD_TARGET, REBUILD_TARGET, TEST_SUITE_TARGET = 60.0, 10.0, 330.0  # seconds
# What `make test` runs, without the lint.
TEST_COMMAND = ["-m", "pytest", "-n", "3", "--dist", "loadgroup", "--no-loadscope-reorder"]
TEST_COMMAND += ["-q", "-p", "no:cacheprovider"]


@dataclasses.dataclass
class Workload:
    name: str
    description: str
    weights: list[np.ndarray]  # [W_1, b_1, W_2, b_2, ...]; every engine copies them
    batches: list[tuple[np.ndarray, np.ndarray]]  # the (X, c) of each step, made once
    learning_rate: float
    hidden: str = "sigmoid"  # or "relu"
    loss: str = "sum"  # the cross-entropy summed over the batch, or "mean"
    optimizer: str = "gd"  # gradient descent, or "adam"
    results: dict = dataclasses.field(default_factory=dict)  # engine name -> measurements

    @property
    def steps(self) -> int:
        return len(self.batches)

    def model(self, engine):
        """A fresh model of this workload, built by ``engine``."""
        options = {"hidden": self.hidden, "loss": self.loss, "optimizer": self.optimizer}
        return engine(self.weights, self.learning_rate, **options)


def first_steps(workload: Workload, steps: int) -> Workload:
    """The same workload, cut to its first ``steps`` steps (and without results)."""
    return dataclasses.replace(workload, batches=workload.batches[:steps], results={})


def random_workload(name: str, sizes: list[int], n: int, steps: int, lr: float) -> Workload:
    """Random points and one-hot classes; weights scaled by 1/sqrt(fan-in), zero biases."""
    rng = np.random.default_rng(int(name[1:]))
    X = rng.standard_normal((n, sizes[0]))
    c = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        weights += [rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), np.zeros(fan_out)]
    what = f"{'-'.join(map(str, sizes))} MLP, {n} random points, {steps} steps, lr {lr:g}"
    return Workload(name, what, weights, [(X, c)] * steps, lr)


def digits_workload(epochs: int = 5) -> Workload:
    """W4: chapter 14's training, for ``epochs`` epochs instead of 20."""
    X, c = ds.datasets.digits()
    X_train, c_train, _, _ = ds.datasets.train_test_split(X, c, test_fraction=0.25, seed=0)
    rng = np.random.default_rng(0)  # the chapter's initial weights, drawn in its order
    weights = [rng.normal(0, np.sqrt(2 / 64), (64, 64)), np.zeros(64)]
    weights += [rng.normal(0, np.sqrt(1 / 64), (64, 10)), np.zeros(10)]
    batch_rng = np.random.default_rng(1)
    batches = [
        (np.ascontiguousarray(X_batch), np.ascontiguousarray(c_batch))
        for _ in range(epochs)
        for X_batch, c_batch in ds.datasets.batches(X_train, c_train, 32, batch_rng)
    ]
    what = (
        f"chapter 14's 64-64-10 ReLU MLP, digits, mean cross-entropy, Adam lr 0.003, "
        f"batches of 32, {epochs} epochs = {len(batches)} steps"
    )
    return Workload("W4", what, weights, batches, 0.003, "relu", "mean", "adam")


def make_workloads() -> list[Workload]:
    X, c = ds.datasets.xor_clusters()
    rng = np.random.default_rng(0)  # the book's initial weights, drawn in the book's order
    weights = [rng.standard_normal((2, 2)), rng.standard_normal(2)]
    weights += [rng.standard_normal((2, 2)), rng.standard_normal(2)]
    what = "the book's 2-2-2 MLP, 100 XOR-cluster points, 1000 steps, lr 0.03"
    return [
        Workload("W1", what, weights, [(X, c)] * 1000, learning_rate=0.03),
        random_workload("W2", [64, 128, 10], n=1024, steps=200, lr=3e-4),
        random_workload("W3", [784, 512, 10], n=512, steps=20, lr=1e-4),
        digits_workload(),
    ]


class DeepscratchMLP:
    """The MLP as a deepscratch graph, built as the book builds it: with ``loss="sum"`` as
    the early chapters do, ``-reduce_sum(reduce_sum(c * log(softmax(a)), axis=1))``; with
    ``loss="mean"`` as chapter 14 does, ``reduce_mean(softmax_cross_entropy(logits, c))``.
    ``optimize=False`` runs the graph exactly as built, without the session's optimiser."""

    def __init__(
        self,
        weights,
        learning_rate,
        *,
        hidden="sigmoid",
        loss="sum",
        optimizer="gd",
        optimize=True,
    ) -> None:
        activation = {"sigmoid": ds.sigmoid, "relu": ds.relu}[hidden]
        with ds.Graph().as_default():
            self.X_in, self.c_in = ds.placeholder(name="X"), ds.placeholder(name="c")
            self.variables = [ds.Variable(w) for w in weights]
            H, last = self.X_in, len(self.variables) - 2
            for i in range(0, len(self.variables), 2):
                a = ds.add(ds.matmul(H, self.variables[i]), self.variables[i + 1])
                H = a if i == last else activation(a)
            if loss == "sum":
                per_point = ds.reduce_sum(ds.multiply(self.c_in, ds.log(ds.softmax(H))), axis=1)
                J = ds.negative(ds.reduce_sum(per_point))
            elif loss == "mean":
                J = ds.reduce_mean(ds.softmax_cross_entropy(H, self.c_in))
            else:
                raise ValueError(f"unknown loss={loss!r}")
            if optimizer == "gd":
                train_op = ds.train.GradientDescentOptimizer(learning_rate).minimize(J)
            elif optimizer == "adam":
                train_op = ds.train.AdamOptimizer(learning_rate).minimize(J)
            else:
                raise ValueError(f"unknown optimizer={optimizer!r}")
            self.fetches, self.session = [J, train_op], ds.Session(optimize=optimize)

    def step(self, X: np.ndarray, c: np.ndarray) -> float:
        return self.session.run(self.fetches, {self.X_in: X, self.c_in: c})[0]

    def weights(self) -> list[np.ndarray]:
        return [variable.value.copy() for variable in self.variables]


def load_engines() -> dict:
    """The engines to compare, the reference first; PyTorch only when it is installed."""
    engines: dict = {
        "numpy": NumpyMLP,
        "deepscratch": DeepscratchMLP,
        "deepscratch (as built)": functools.partial(DeepscratchMLP, optimize=False),
    }
    try:
        from torch_reference import TorchMLP
    except ImportError as error:
        print(f'PyTorch skipped ({error}): pip install -e ".[bench]"', file=sys.stderr)
    else:
        engines["torch 1 thread"] = functools.partial(TorchMLP, threads=1)
        engines["torch 2 threads"] = functools.partial(TorchMLP, threads=2)
    return engines


def configure_threads(engines: dict, threads: int | None) -> dict:
    """numpy's BLAS and its thread count (``threads``, if given); each PyTorch engine sets
    its own."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # then OpenBLAS's own default: the variable, else one per core
        if threads:
            raise SystemExit("--threads needs threadpoolctl: pip install threadpoolctl") from None
        threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        info = {"blas": "unknown: threadpoolctl is not installed; its thread count is assumed"}
        info["numpy_threads"] = int(threads or len(os.sched_getaffinity(0)))
    else:
        if threads:
            threadpool_limits(threads, user_api="blas")
        pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        numpy_dir = str(Path(np.__file__).parent)  # numpy's BLAS is in numpy.libs/ (or numpy/)
        pool = next((p for p in pools if p["filepath"].startswith(numpy_dir)), pools[0])
        details = ", ".join(filter(None, [pool.get("architecture"), pool.get("threading_layer")]))
        info = {"blas": f"{pool['internal_api']} {pool['version']} ({details})"}
        info["numpy_threads"] = pool["num_threads"]
    if any(name.startswith("torch") for name in engines):
        import torch

        info["torch"] = torch.__version__
    return info


def train(engine, workload: Workload) -> tuple[float, float, list[np.ndarray]]:
    """One training run: the seconds its steps took (building the model is not timed), the
    last loss that a step returned, and the final weights."""
    trainer = workload.model(engine)
    start = time.perf_counter()
    for X, c in workload.batches:
        loss = trainer.step(X, c)
    return time.perf_counter() - start, loss, trainer.weights()


def relative_error(result: tuple, reference: tuple) -> float:
    """The largest difference in the loss or in any weight array, relative to that array."""
    pairs = [(np.array(result[1]), np.array(reference[1]))]
    pairs += zip(result[2], reference[2], strict=True)
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) for a, b in pairs)


def benchmark_workload(engines: dict, workload: Workload, repeats: int) -> None:
    """Check that each engine agrees with the reference, then time those that do."""
    reference = train(engines["numpy"], workload)
    for name, engine in engines.items():
        error = relative_error(train(engine, workload), reference)
        workload.results[name] = {"agrees": error <= AGREEMENT, "relative_error": error}
    timed = [name for name in engines if workload.results[name]["agrees"]]
    times: dict[str, list[float]] = {name: [] for name in timed}
    for repeat in range(repeats):  # in turns, each repeat starting with the next engine
        for name in timed[repeat % len(timed) :] + timed[: repeat % len(timed)]:
            gc.collect()
            # PyTorch's worker threads keep spinning for a while after its run (OpenMP's
            # wait policy), taking a core from whatever runs next: let them go idle first.
            time.sleep(IDLE_SECONDS)
            times[name].append(train(engines[name], workload)[0])
    for name in timed:
        # The ratio is taken within each repeat, whose engines ran moments apart, and the
        # median of those ratios is reported: a burst of load on the machine moves it less.
        ratios = np.divide(times[name], times["numpy"])
        workload.results[name] |= {
            "times_s": times[name],
            "median_s": float(np.median(times[name])),
            "min_s": min(times[name]),
            "ratio": float(np.median(ratios)),
            "ratio_of_mins": min(times[name]) / min(times["numpy"]),
        }


def peak_memory(engine, workload: Workload) -> int:
    """Peak bytes allocated (tracemalloc) while building the model and training it once."""
    gc.collect()
    tracemalloc.start()
    train(engine, workload)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by the whole machine and by this process."""
    with open("/proc/stat") as stat:
        jiffies = [int(n) for n in stat.readline().split()[1:]]
    machine = (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return machine, usage.ru_utime + usage.ru_stime


def build_book(output: Path) -> dict:
    """Build the book as ``make book`` does, into ``output``; time it, count what it executed."""
    command = [sys.executable, "-m", "tools.build_book", "--path-output", str(output)]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)  # without the colours
    # tools/build_book.py prints "<chapter>: Executing notebook ... 1.8 s, 23 code cells".
    executed = re.findall(r"^(\S+\.md): Executing notebook .*?(\d+) code cells$", log, re.M)
    result = {"seconds": seconds, "ok": run.returncode == 0, "executed": [c for c, _ in executed]}
    result["cells_executed"] = sum(int(cells) for _, cells in executed)
    if run.returncode != 0:
        problems = re.findall(r"^.*(?:WARNING:|ERROR:|Error\b).*$", log, re.MULTILINE)
        result["problems"] = problems[-10:] or log.strip().splitlines()[-10:]
    return result


def time_book_builds() -> dict:
    with tempfile.TemporaryDirectory(prefix="deepscratch-bench-book-") as folder:
        # A failed build (a chapter's warning, say) still executes and caches every chapter.
        return {"cold_build": build_book(Path(folder)), "rebuild": build_book(Path(folder))}


def run_test_suite() -> dict:
    """The project's test suite, run once as ``make test`` runs it (without the lint): its
    wall-clock seconds and how many tests passed, failed, were skipped or errored."""
    command = [sys.executable, *TEST_COMMAND]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr).strip().splitlines()
    summary = log[-1] if log else ""
    counts = {
        kind: sum(int(n) for n in re.findall(rf"(\d+) {kind}s?\b", summary))
        for kind in ("passed", "failed", "skipped", "error")
    }
    result = {"seconds": seconds, "ok": run.returncode == 0, "exit_status": run.returncode}
    result |= {"summary": summary, **counts}
    if run.returncode != 0:
        problems = [line for line in log if line.startswith(("FAILED", "ERROR"))]
        result["problems"] = problems[-10:] or log[-10:]
    return result


def profile(engine, name: str, workload: Workload, top: int = 15) -> None:
    """cProfile of one training run of ``workload`` by ``engine``, by time spent in each
    function itself. numpy's ufuncs (``exp``, ``+``, ...) are no functions to cProfile: their
    time counts as the time of the line's function (``step`` in the reference)."""
    trainer = workload.model(engine)
    with cProfile.Profile() as profiler:
        for X, c in workload.batches:
            trainer.step(X, c)
    print(f"cProfile of one {name} training run of {workload.name}: {workload.description}")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


def describe_machine() -> dict:
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else "?"

    dirty = "+dirty" if git("status", "--short", "--untracked-files=no") else ""
    cpu = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    names = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]
    return {
        "commit": git("rev-parse", "--short", "HEAD") + dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": f"{cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} cores",
        "environment": {name: os.environ.get(name, "unset") for name in names},
    }


def check_targets(
    results: dict, memory: dict, book: dict | None, tests: dict | None
) -> list[tuple]:
    """(what, measured, limit) for each target that this run measured."""
    ratio = {name: result.get("deepscratch", {}).get("ratio") for name, result in results.items()}
    checks = [
        (f"{name} time, deepscratch / numpy", ratio.get(name), limit)
        for name, limit in SPEED_TARGETS.items()
    ]
    w1 = results.get("W1", {})
    torch_w1 = {
        name: r["ratio"] for name, r in w1.items() if name.startswith("torch") and "ratio" in r
    }
    if torch_w1 and ratio.get("W1"):
        fastest = min(torch_w1, key=torch_w1.get)
        checks.insert(1, (f"W1 time, deepscratch / {fastest}", ratio["W1"] / torch_w1[fastest], 1))
    cold, rebuild = ((book or {}).get(key) or {} for key in ("cold_build", "rebuild"))
    tests = tests or {}
    checks += [
        ("W3 peak memory, deepscratch / numpy", memory.get("ratio"), MEMORY_TARGET),
        ("cold book build, seconds", cold.get("seconds"), COLD_BUILD_TARGET),
        ("unchanged rebuild, seconds", rebuild.get("seconds"), REBUILD_TARGET),
        ("unchanged rebuild, code cells executed", rebuild.get("cells_executed"), 0),
        ("test suite, seconds", tests.get("seconds"), TEST_SUITE_TARGET),
        ("test suite, pytest's exit status (0: every test passed)", tests.get("exit_status"), 0),
    ]
    return [check for check in checks if check[1] is not None]


def print_report(
    info: dict, workloads: list[Workload], memory: dict, book: dict | None, tests: dict | None
) -> None:
    print(f"deepscratch benchmark: commit {info['commit']}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"python {info['python']}, numpy {info['numpy']}, torch {info.get('torch', '-')}")
    print(f"CPU: {info['cpu']}; numpy's BLAS: {info['blas']}")
    torch_threads = "1 and 2 (one engine each)" if "torch" in info else "-"
    print(f"threads: numpy's BLAS {info['numpy_threads']}, torch {torch_threads}")
    print("environment: " + ", ".join(f"{k}={v}" for k, v in info["environment"].items()))
    busy = info["others_cores"]
    warning = ": a busy machine; rerun before trusting these times" if busy > 0.25 else ""
    print(f"other processes kept {busy:.2f} of the cores busy while timing{warning}\n")
    for workload in workloads:
        print(f"{workload.name}  {workload.description}")
    head = ["", "engine", "rel. error", "median", "min", "per step", "x numpy", "x (mins)"]
    print("\n{:4}{:24}{:>10}{:>12}{:>12}{:>11}{:>9}{:>9}".format(*head))
    for w in workloads:
        for name, r in w.results.items():
            row = f"{w.name:4}{name:24}{r['relative_error']:>10.0e}"
            if r["agrees"]:
                row += f"{r['median_s'] * 1e3:>9.1f} ms{r['min_s'] * 1e3:>9.1f} ms"
                row += f"{r['median_s'] / w.steps * 1e6:>8.0f} us"
                row += f"{r['ratio']:>8.2f}x{r['ratio_of_mins']:>8.2f}x"
            print(row if r["agrees"] else f"{row}  WRONG: disagrees with numpy, not timed")
    if memory:
        mib = memory["numpy"] / 2**20, memory["deepscratch"] / 2**20
        print(
            "\npeak memory of one W3 training run (tracemalloc): "
            "numpy {:.1f} MiB, deepscratch {:.1f} MiB".format(*mib)
        )
    builds = (
        {"cold build": book["cold_build"], "unchanged rebuild": book["rebuild"]} if book else {}
    )
    for kind, r in builds.items():
        if r:
            cells = f"{len(r['executed'])} notebooks ({r['cells_executed']} code cells)"
            print(f"book, {kind}: {r['seconds']:.1f} s, executed {cells}")
            if not r["ok"]:
                print("  FAILED:\n    " + "\n    ".join(r["problems"]))
    if tests:
        counts = ", ".join(f"{tests[kind]} {kind}" for kind in ("passed", "failed", "skipped"))
        print(f"test suite: {tests['seconds']:.1f} s, {counts}, {tests['error']} errors")
        if not tests["ok"]:
            print("  FAILED:\n    " + "\n    ".join(tests["problems"]))
    print("\ntargets:")
    results = {w.name: w.results for w in workloads}
    for what, measured, limit in check_targets(results, memory, book, tests):
        verdict = "met   " if measured <= limit else "MISSED"
        print(f"  {verdict}  {what}: {measured:.3g} <= {limit:g}")


def measure_peak_memory(engines: dict, workloads: list[Workload]) -> dict:
    """Peak bytes of one W3 run, deepscratch and numpy, when W3 is among the workloads."""
    w3 = next((w for w in workloads if w.name == "W3"), None)
    if w3 is None:
        return {}
    memory = {name: peak_memory(engines[name], w3) for name in ("numpy", "deepscratch")}
    return memory | {"ratio": memory["deepscratch"] / memory["numpy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each engine")
    parser.add_argument("--workloads", default="W1,W2,W3,W4", help="which ones, e.g. W1,W3")
    parser.add_argument("--no-book", action="store_true", help="skip the book's build times")
    parser.add_argument("--no-tests", action="store_true", help="skip the test suite's time")
    parser.add_argument("--threads", type=int, help="threads for numpy's BLAS")
    parser.add_argument("--json", type=Path, help="also write the JSON line to this file")
    parser.add_argument("--profile", metavar="W", help="only profile one engine on workload W")
    parser.add_argument(
        "--profile-engine",
        default="deepscratch",
        metavar="ENGINE",
        help="the engine --profile profiles: deepscratch (the default), numpy, ...",
    )
    args = parser.parse_args()
    chosen = (args.profile or args.workloads).split(",")
    workloads = [workload for workload in make_workloads() if workload.name in chosen]
    if not workloads:
        parser.error(f"no workload among {chosen}: there are W1, W2, W3 and W4")
    engines = load_engines()
    if args.profile:
        if args.profile_engine not in engines:
            parser.error(f"--profile-engine: one of {', '.join(map(repr, engines))}")
        configure_threads(engines, args.threads)
        return profile(engines[args.profile_engine], args.profile_engine, workloads[0])

    info = describe_machine() | configure_threads(engines, args.threads)
    machine_before, own_before = cpu_seconds()
    start = time.perf_counter()
    for workload in workloads:
        print(f"{workload.name}: checking agreement, then timing...", file=sys.stderr)
        benchmark_workload(engines, workload, args.repeats)
    machine_after, own_after = cpu_seconds()
    others = (machine_after - machine_before) - (own_after - own_before)
    info["others_cores"] = max(others, 0.0) / (time.perf_counter() - start)
    memory = measure_peak_memory(engines, workloads)
    if not args.no_book:
        print("building the book twice...", file=sys.stderr)
    book = None if args.no_book else time_book_builds()
    if not args.no_tests:
        print("running the test suite...", file=sys.stderr)
    tests = None if args.no_tests else run_test_suite()
    print_report(info, workloads, memory, book, tests)
    results = {w.name: {"description": w.description, **w.results} for w in workloads}
    record = {"workloads": results, "peak_memory_w3": memory, "book": book, "tests": tests}
    line = json.dumps(info | record)
    print(line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
