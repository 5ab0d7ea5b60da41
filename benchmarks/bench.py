"""``make bench``: deepscratch against a hand-written numpy reference (and PyTorch, if installed).

Each engine trains the same MLP from the same initial weights on the same data: sigmoid
hidden layers, a softmax output layer, ``J = -sum(c * log(p))``, full-batch gradient
descent in float64. One deepscratch step is ``session.run([J, train_op], feed)``. An engine
whose final loss and weights disagree with the reference is reported wrong and not timed;
the others are timed in turns, in one process. Then the peak memory of a W3 run, and the
book's cold build and unchanged rebuild (``--no-book`` skips them). The report is a table
and one line of JSON. benchmarks/README.md says how to read it.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
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
AGREEMENT = 1e-6  # the largest relative difference from the reference that counts as agreeing
SPEED_TARGETS = {"W1": 1.5, "W2": 1.3, "W3": 1.1}  # deepscratch / numpy, median of the repeats
MEMORY_TARGET, COLD_BUILD_TARGET, REBUILD_TARGET = 1.2, 60.0, 10.0


@dataclasses.dataclass
class Workload:
    name: str
    description: str
    X: np.ndarray
    c: np.ndarray
    weights: list[np.ndarray]  # [W_1, b_1, W_2, b_2, ...]; every engine copies them
    steps: int
    learning_rate: float
    results: dict = dataclasses.field(default_factory=dict)  # engine name -> measurements


def random_workload(name: str, sizes: list[int], n: int, steps: int, lr: float) -> Workload:
    """Random points and one-hot classes; weights scaled by 1/sqrt(fan-in), zero biases."""
    rng = np.random.default_rng(int(name[1:]))
    X = rng.standard_normal((n, sizes[0]))
    c = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    weights = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        weights += [rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), np.zeros(fan_out)]
    what = f"{'-'.join(map(str, sizes))} MLP, {n} random points, {steps} steps, lr {lr:g}"
    return Workload(name, what, X, c, weights, steps, lr)


def make_workloads() -> list[Workload]:
    X, c = ds.datasets.xor_clusters()
    rng = np.random.default_rng(0)  # the book's initial weights, drawn in the book's order
    weights = [rng.standard_normal((2, 2)), rng.standard_normal(2)]
    weights += [rng.standard_normal((2, 2)), rng.standard_normal(2)]
    what = "the book's 2-2-2 MLP, 100 XOR-cluster points, 1000 steps, lr 0.03"
    return [
        Workload("W1", what, X, c, weights, steps=1000, learning_rate=0.03),
        random_workload("W2", [64, 128, 10], n=1024, steps=200, lr=3e-4),
        random_workload("W3", [784, 512, 10], n=512, steps=20, lr=1e-4),
    ]


class DeepscratchMLP:
    """The MLP as a deepscratch graph, built as the book builds it."""

    def __init__(self, weights, X, c, learning_rate) -> None:
        with ds.Graph().as_default():
            X_in, c_in = ds.placeholder(name="X"), ds.placeholder(name="c")
            self.variables = [ds.Variable(w) for w in weights]
            H, last = X_in, len(self.variables) - 2
            for i in range(0, len(self.variables), 2):
                a = ds.add(ds.matmul(H, self.variables[i]), self.variables[i + 1])
                H = ds.softmax(a) if i == last else ds.sigmoid(a)
            J = ds.negative(ds.reduce_sum(ds.reduce_sum(ds.multiply(c_in, ds.log(H)), axis=1)))
            train_op = ds.train.GradientDescentOptimizer(learning_rate).minimize(J)
            self.fetches, self.session = [J, train_op], ds.Session()
        self.feed = {X_in: X, c_in: c}

    def step(self) -> float:
        return self.session.run(self.fetches, self.feed)[0]

    def weights(self) -> list[np.ndarray]:
        return [variable.value.copy() for variable in self.variables]


def load_engines() -> dict:
    """The engines to compare, the reference first; PyTorch only when it is installed."""
    engines: dict = {"numpy": NumpyMLP, "deepscratch": DeepscratchMLP}
    try:
        from torch_reference import TorchMLP
    except ImportError as error:
        print(f'PyTorch skipped ({error}): pip install -e ".[bench]"', file=sys.stderr)
    else:
        engines["torch"] = TorchMLP
    return engines


def configure_threads(engines: dict, threads: int | None) -> dict:
    """numpy's BLAS and its thread count (``threads``, if given); PyTorch gets as many."""
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
        numpy_dir = str(Path(np.__file__).parent.parent)
        pool = next((p for p in pools if p["filepath"].startswith(numpy_dir)), pools[0])
        details = ", ".join(filter(None, [pool.get("architecture"), pool.get("threading_layer")]))
        info = {"blas": f"{pool['internal_api']} {pool['version']} ({details})"}
        info["numpy_threads"] = pool["num_threads"]
    if "torch" in engines:
        import torch

        torch.set_num_threads(info["numpy_threads"])
        info |= {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    return info


def train(engine, workload: Workload) -> tuple[float, float, list[np.ndarray]]:
    """One training run: the seconds its steps took (building the model is not timed), the
    last loss that a step returned, and the final weights."""
    trainer = engine(workload.weights, workload.X, workload.c, workload.learning_rate)
    start = time.perf_counter()
    for _ in range(workload.steps):
        loss = trainer.step()
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
    command = [sys.executable, str(ROOT / "_ext" / "build_book.py"), "--path-output", str(output)]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    log = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)  # without the colours
    executed = re.findall(r"^(\S+\.(?:md|ipynb)): Executing notebook", log, re.MULTILINE)
    result = {"seconds": seconds, "ok": run.returncode == 0, "executed": executed}
    result["cells_executed"] = sum(count_code_cells(Path(path)) for path in executed)
    if run.returncode != 0:
        problems = re.findall(r"^.*(?:WARNING:|ERROR:|Error\b).*$", log, re.MULTILINE)
        result["problems"] = problems[-10:] or log.strip().splitlines()[-10:]
    return result


def count_code_cells(path: Path) -> int:
    if path.suffix == ".ipynb":
        return sum(cell["cell_type"] == "code" for cell in json.loads(path.read_text())["cells"])
    return len(re.findall(r"^```\{code-cell\}", path.read_text(), re.MULTILINE))


def time_book_builds() -> dict:
    with tempfile.TemporaryDirectory(prefix="deepscratch-bench-book-") as folder:
        # A failed build (a chapter's warning, say) still executes and caches every chapter.
        return {"cold_build": build_book(Path(folder)), "rebuild": build_book(Path(folder))}


def profile_deepscratch(workload: Workload, top: int = 15) -> None:
    trainer = DeepscratchMLP(workload.weights, workload.X, workload.c, workload.learning_rate)
    with cProfile.Profile() as profiler:
        for _ in range(workload.steps):
            trainer.step()
    print(f"cProfile of one deepscratch training run of {workload.name}: {workload.description}")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


def describe_machine() -> dict:
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else "?"

    dirty = "+dirty" if git("status", "--short", "--untracked-files=no") else ""
    cpu = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    variables = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]
    return {
        "commit": git("rev-parse", "--short", "HEAD") + dirty,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": f"{cpu.group(1) if cpu else platform.processor()}, {os.cpu_count()} cores",
        "environment": {name: os.environ.get(name, "unset") for name in variables},
    }


def check_targets(results: dict, memory: dict, book: dict | None) -> list[tuple]:
    """(what, measured, limit) for each target of the issue that this run measured."""
    ratio = {name: engines.get("deepscratch", {}).get("ratio") for name, engines in results.items()}
    torch_w1 = results.get("W1", {}).get("torch", {}).get("ratio")
    cold, rebuild = ((book or {}).get(key) or {} for key in ("cold_build", "rebuild"))
    checks = [
        (f"{name} time, deepscratch / numpy", ratio.get(name), limit)
        for name, limit in SPEED_TARGETS.items()
    ]
    checks += [
        ("W1 time, deepscratch / torch", torch_w1 and ratio["W1"] and ratio["W1"] / torch_w1, 1),
        ("W3 peak memory, deepscratch / numpy", memory.get("ratio"), MEMORY_TARGET),
        ("cold book build, seconds", cold.get("seconds"), COLD_BUILD_TARGET),
        ("unchanged rebuild, seconds", rebuild.get("seconds"), REBUILD_TARGET),
        ("unchanged rebuild, code cells executed", rebuild.get("cells_executed"), 0),
    ]
    return [check for check in checks if check[1] is not None]


def print_report(info: dict, workloads: list[Workload], memory: dict, book: dict | None) -> None:
    print(f"deepscratch benchmark: commit {info['commit']}, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"python {info['python']}, numpy {info['numpy']}, torch {info.get('torch', '-')}")
    print(f"CPU: {info['cpu']}; numpy's BLAS: {info['blas']}")
    print(f"threads: numpy's BLAS {info['numpy_threads']}, torch {info.get('torch_threads', '-')}")
    print("environment: " + ", ".join(f"{k}={v}" for k, v in info["environment"].items()))
    busy = info["others_cores"]
    warning = ": a busy machine; rerun before trusting these times" if busy > 0.25 else ""
    print(f"other processes kept {busy:.2f} of the cores busy while timing{warning}\n")
    for workload in workloads:
        print(f"{workload.name}  {workload.description}")
    head = ["", "engine", "rel. error", "median", "min", "per step", "x numpy", "x (mins)"]
    print("\n{:4}{:12}{:>11}{:>12}{:>12}{:>12}{:>9}{:>9}".format(*head))
    for w in workloads:
        for name, r in w.results.items():
            row = f"{w.name:4}{name:12}{r['relative_error']:>11.0e}"
            if r["agrees"]:
                row += f"{r['median_s'] * 1e3:>9.1f} ms{r['min_s'] * 1e3:>9.1f} ms"
                row += f"{r['median_s'] / w.steps * 1e6:>9.0f} us"
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
    print("\ntargets:")
    for what, measured, limit in check_targets(
        {w.name: w.results for w in workloads}, memory, book
    ):
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
    parser.add_argument("--workloads", default="W1,W2,W3", help="which ones, e.g. W1,W3")
    parser.add_argument("--no-book", action="store_true", help="skip the book's build times")
    parser.add_argument("--threads", type=int, help="threads for numpy's BLAS and for torch")
    parser.add_argument("--json", type=Path, help="also write the JSON line to this file")
    parser.add_argument("--profile", metavar="W", help="only profile deepscratch on workload W")
    args = parser.parse_args()
    chosen = (args.profile or args.workloads).split(",")
    workloads = [workload for workload in make_workloads() if workload.name in chosen]
    if args.profile:
        return profile_deepscratch(workloads[0])

    engines = load_engines()
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
    print_report(info, workloads, memory, book)
    results = {w.name: {"description": w.description, **w.results} for w in workloads}
    line = json.dumps(info | {"workloads": results, "peak_memory_w3": memory, "book": book})
    print(line)
    if args.json:
        args.json.write_text(line + "\n")


if __name__ == "__main__":
    main()
