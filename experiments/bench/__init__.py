"""Benchmark: npnet training speed against the GEMM floor, hand-written loops, scikit-learn and (if installed) PyTorch.

Run:  python -m experiments.bench            (a few minutes)
      python -m experiments.bench --quick    (seconds; numbers not meaningful)

Workload: ReLU MLP 784 → 5×100 → 10, softmax cross-entropy, plain SGD, N = 8,000 MNIST images, batch 100, one
epoch, inputs already in memory; float64 and float32. All contenders run in one process, in interleaved rounds
(A B C A B C …), and the median of the rounds is reported, so a noisy neighbour slows every contender alike.

The GEMM floor is the time of exactly the matrix products npnet's training step performs — Z = X Wᵀ,
dW = δᵀX and dX = δW per layer per batch (no dX for the first layer, whose input is data) — on preallocated
arrays, and nothing else: no training loop can beat it with the same BLAS. NumPy and SciPy each ship an OpenBLAS;
the floor is measured with both (``gemm_floor_*``: NumPy's, ``gemm_floor_scipy_*``: SciPy's).

Between the floor and npnet sit references, each checked by ``tests/test_bench.py`` to end with npnet's weights:
the floor plus the minibatch gather and the SGD update (the data movement no shuffled SGD loop in NumPy avoids),
and four hand-written loops (``LOOPS``): a minimal flat NumPy loop (npnet's arithmetic exactly), an optimised one
(lr folded into δ: a one-pass update), a flat loop whose products all go through SciPy's BLAS with the SGD update
fused into the weight GEMM (npnet does not fuse it: docs/DEVELOPING.md says why; this loop measures what fusing
would buy), and that loop again behind small Dense/ReLU/softmax objects with a loss value and a finiteness check
per step. "npnet" (``npnet_blas``) is the default: NumPy's BLAS, dW set every step, then ``SGD.step``. Its budget,
printed as two ratios: ÷ GEMM floor no higher than before issue 23 (1.35 float64, 1.51 float32), and ÷ the fastest
NumPy-only loop ≤ 1.05. Each loop takes all the products of a step from one BLAS library: alternating NumPy's and
SciPy's makes their thread pools fight (see docs/DEVELOPING.md).

The code is split by part: ``workload`` (sizes, batch, settle time), ``floor`` (the GEMM floor), ``loops`` (the
hand-written loops), ``libraries`` (npnet, scikit-learn, PyTorch), ``timing`` (interleaved rounds, memory,
scaling) and ``ratios`` (the targets and README's table); this module runs them and writes the outputs.
"""
import contextlib
import json
import os
import statistics

import numpy as np
import scipy
from threadpoolctl import threadpool_limits

from .. import _cli as cli, _console as console, _outputs as outputs
from .. import _plotting as plotting
from .floor import _products, gemm_floor_epoch
from .libraries import npnet_epoch, sklearn_epoch, torch_available, torch_epoch
from .loops import (LOOPS, NUMPY_LOOPS, minimal_numpy_epoch, optimised_numpy_epoch, scipy_flat_epoch,
                    scipy_objects_epoch)
from .ratios import TARGETS, ratio_rows, readme_table
from .timing import blas_environment, blas_info, interleaved, peak_memory_per_epoch, scaling
from .workload import BATCH, LR, N_TRAIN, SETTLE, SIZES

__all__ = ["main", "benchmark", "readme_table", "TARGETS", "LR", "LOOPS", "NUMPY_LOOPS", "_products",
           "gemm_floor_epoch", "minimal_numpy_epoch", "optimised_numpy_epoch", "scipy_flat_epoch", "scipy_objects_epoch"]


ROUNDS_MAX = 1_000   # --rounds beyond is a typo (stated in --help)


def main(argv=None):
    p = cli.parser("python -m experiments.bench", __doc__.split("\n")[0], dtype=False)  # runs both dtypes
    p.add_argument("--rounds", type=cli.count_arg(ROUNDS_MAX), default=None,
                   help=f"interleaved rounds per contender (default: 15; 2 with --quick; {cli.at_most(ROUNDS_MAX)})")
    args, out, progress = cli.start(p, argv)
    # --quick only checks that everything runs: one BLAS thread spares it the fight of NumPy's and SciPy's thread
    # pools when contenders follow each other with no pause (seconds per switch on a loaded machine)
    with threadpool_limits(1) if args.quick else contextlib.nullcontext():
        benchmark(args, out, progress)


def benchmark(args, out, progress):
    """The whole benchmark for parsed ``args``: time, print, and write bench.png and bench.json to ``out``."""
    rounds = args.rounds or (2 if args.quick else 15)
    n = 1_000 if args.quick else N_TRAIN
    split = cli.load_mnist(args, n, 1)
    X, y = split.X_train, split.y_train
    has_torch = torch_available()
    threads = blas_info()
    progress(f"data: {split.source}; BLAS: {threads}; {blas_environment()}")
    contenders = {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        Xd = X.astype(dtype)
        contenders[f"gemm_floor_{name}"] = (lambda d=dtype: gemm_floor_epoch(n, d, args.seed))
        contenders[f"gemm_floor_scipy_{name}"] = (lambda d=dtype: gemm_floor_epoch(n, d, args.seed, library="scipy"))
        contenders[f"floor_gather_{name}"] = (lambda Xd=Xd, d=dtype: gemm_floor_epoch(n, d, args.seed, X=Xd))
        contenders[f"floor_gather_update_{name}"] = (
            lambda Xd=Xd, d=dtype: gemm_floor_epoch(n, d, args.seed, X=Xd, update=True))
        for loop, fn in zip(LOOPS, (minimal_numpy_epoch, optimised_numpy_epoch, scipy_flat_epoch,
                                    scipy_objects_epoch)):
            contenders[f"{loop}_{name}"] = (lambda Xd=Xd, d=dtype, fn=fn: fn(Xd, y, d, args.seed))
        contenders[f"npnet_blas_{name}"] = (lambda Xd=Xd, d=dtype: npnet_epoch(Xd, y, d, "blas", args.seed))
        contenders[f"npnet_exact_{name}"] = (lambda Xd=Xd, d=dtype: npnet_epoch(Xd, y, d, "exact", args.seed))
        contenders[f"sklearn_{name}"] = (lambda Xd=Xd, d=dtype: sklearn_epoch(Xd, y, d, args.seed))
        if has_torch:
            contenders[f"torch_{name}"] = (lambda Xd=Xd, d=dtype: torch_epoch(Xd, y, d, args.seed))
    torch_info = None
    if has_torch:
        import torch
        # as many threads as the BLAS pools have (all cores by default; fewer if OPENBLAS_NUM_THREADS says so)
        torch.set_num_threads(max([pool["num_threads"] for pool in threads if pool.get("internal_api") == "openblas"]
                                  or [os.cpu_count() or 1]))
        torch_info = {"version": torch.__version__, "threads": torch.get_num_threads()}
    else:
        progress("PyTorch is not installed: its rows are skipped (torch is never an npnet dependency)")
    if not args.quick:               # --quick checks that everything runs; its numbers mean nothing anyway
        for fn in contenders.values():   # warm-up: first-call costs (imports, BLAS thread start) are not timed
            fn()
    times = interleaved(contenders, rounds, progress, 0.0 if args.quick else SETTLE)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = ratio_rows(times)
    peaks = {np.dtype(d).name: peak_memory_per_epoch(X.astype(d), y, d, 2 if args.quick else 4, args.seed)
             for d in (np.float64, np.float32)}
    scale = scaling(X, y, np.float64, args.seed, args.quick, progress)

    print()
    print(f"data: {split.source}; {n} samples, batch {BATCH}, one epoch; median of {rounds} interleaved rounds")
    print(console.format_table(["contender", "s/epoch", "min", "max"],
                               [[k, f"{median[k]:.4f}", f"{min(v):.4f}", f"{max(v):.4f}"] for k, v in times.items()]))
    print()
    print(console.format_table(["ratio (same run)", "denominator", "of medians", "per round", "of minima",
                                "target met"],
                               [[r["target"], r["denominator"], f"{r['ratio']:.3f}", f"{r['paired_ratio']:.3f}",
                                f"{r['ratio_of_minima']:.3f}", "-" if r["met"] is None else r["met"]]
                               for r in ratios]))
    print("\nperformance budget (npnet's default training step; ratios of medians in this run):")
    for r in ratios:
        if r["target"].startswith(("npnet / GEMM floor", "npnet / fastest NumPy-only")):
            print(f"  {r['target']}: {r['ratio']:.3f} (denominator {r['denominator']}) → "
                  f"{'met' if r['met'] else 'NOT met'}")
    print()
    for name, pk in peaks.items():
        print(f"peak traced memory per epoch, {name}: " + ", ".join(f"{b / 2**20:.2f} MiB" for b in pk))
    print(console.format_table(["vary", "value", "npnet ms", "floor ms", "ratio"],
                               [[r["vary"], r["value"], f"{r['npnet_s'] * 1e3:.1f}", f"{r['floor_s'] * 1e3:.1f}",
                                f"{r['ratio']:.2f}"] for r in scale]))

    blas_threads = sorted({pool.get("num_threads") for pool in threads if pool.get("internal_api") == "openblas"})
    plot_bench(median, rounds, n, blas_threads, out / "bench.png")
    result = {
        "experiment": "bench", "data": split.info,
        "config": {"seed": args.seed, "quick": args.quick, "rounds": rounds, "sizes": SIZES, "batch_size": BATCH,
                   "lr": LR, "n_samples": n},
        "numpy": np.__version__, "scipy": scipy.__version__, "blas": threads,
        "blas_environment": blas_environment(),
        "products": {"npnet_blas_*, npnet_exact_*, numpy_*, gemm_floor_*": "NumPy's BLAS (np.matmul)",
                     "scipy_*, gemm_floor_scipy_*": "SciPy's BLAS (scipy.linalg.blas gemm/gemv)"},
        "cpu_count": os.cpu_count(), "torch": torch_info, "seconds": times, "median_seconds": median,
        "ratios": ratios, "peak_memory_bytes_per_epoch": peaks, "scaling": scale,
    }
    outputs.write_json(out / "bench.json", result)
    progress(f"wrote {out}/bench.png and {out}/bench.json")
    # the outputs are moved into place only when main returns (one set), so the table comes from the dict itself
    print("\nREADME table (from this run's JSON; the same as bench.readme_table(json.load(open(path)))):")
    print(readme_table(json.loads(json.dumps(result))))
#: each contender in words, and the colour groups of the figure
CONTENDER_WORDS = {
    "gemm_floor_scipy": "GEMM floor, SciPy's BLAS", "gemm_floor": "GEMM floor, NumPy's BLAS",
    "floor_gather_update": "floor + gather + SGD update", "floor_gather": "floor + minibatch gather",
    "numpy_minimal": "minimal NumPy loop", "numpy_optimised": "optimised NumPy loop",
    "scipy_flat": "SciPy-BLAS flat loop, fused SGD", "scipy_objects": "SciPy-BLAS loop with objects",
    "npnet_blas": "npnet, default BLAS mode",
    "npnet_exact": "npnet, exact mode", "sklearn": "scikit-learn MLPClassifier", "torch": "PyTorch, eager CPU"}


BENCH_GROUPS = (("C0", "the GEMM floor: only the products (and the data movement any loop does)"),
                ("C4", "hand-written loops"), ("C1", "npnet"), ("C2", "npnet's exact mode"),
                ("C3", "other libraries"))


def contender_words(key):
    """gemm_floor_scipy_float64 → "GEMM floor, SciPy's BLAS, float64"."""
    base, _, dtype = key.rpartition("_")
    return f"{CONTENDER_WORDS.get(base, base)}, {dtype}"


def contender_color(key):
    return ("C0" if "floor" in key else "C4" if key.startswith(LOOPS) else "C1" if key.startswith("npnet_blas")
            else "C2" if "exact" in key else "C3")


def plot_bench(median, rounds, n, blas_threads, path):
    from matplotlib.patches import Patch
    fig, ax = outputs.plt.subplots(figsize=(8, 7.5))
    names = list(median)
    ax.barh([contender_words(k) for k in names], [median[k] * 1e3 for k in names],
            color=[contender_color(k) for k in names])
    ax.set_xlabel(f"ms per epoch (median of {rounds} interleaved rounds)")
    ax.set_ylabel("contender, dtype")
    ax.set_title(f"ReLU 784-5×100-10, SGD, {n} samples, batch {BATCH}; BLAS threads {blas_threads}", fontsize=9)
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.3)
    plotting.legend_outside(ax, "below", handles=[Patch(color=c, label=text) for c, text in BENCH_GROUPS], ncol=2)
    outputs.save_figure(fig, path)


