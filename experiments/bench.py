"""Benchmark: npnet training speed against the GEMM floor, scikit-learn and (if installed) PyTorch.

Run:  python -m experiments.bench            (a few minutes)
      python -m experiments.bench --quick    (seconds; numbers not meaningful)

Workload: ReLU MLP 784 → 5×100 → 10, softmax cross-entropy, plain SGD, N = 8,000 MNIST images, batch 100, one
epoch, inputs already in memory; float64 and float32. All contenders run in one process, in interleaved rounds
(A B C A B C …), and the median of the rounds is reported, so a noisy neighbour slows every contender alike.

The GEMM floor is the time of exactly the matrix products npnet's training step performs — Z = X Wᵀ,
dW = δᵀX and dX = δW per layer per batch (no dX for the first layer, whose input is data) — on preallocated
arrays, and nothing else: no training loop can beat it with the same BLAS. Two references sit between the floor
and npnet: the floor plus the minibatch gather and the SGD update (the data movement no shuffled SGD loop in
NumPy avoids), and a minimal hand-written NumPy loop (``minimal_numpy_epoch``) that trains exactly as npnet does,
with no library around it — the distance from it to npnet is what npnet's own structure costs.
"""
import math
import os
import statistics
import time
import tracemalloc
import warnings

import numpy as np

import npnet

from . import _common as common

SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 100
N_TRAIN = 8_000
LR = 0.01
#: seconds to wait, untimed, before each timed contender. Thread pools keep spinning after their last operation
#: (PyTorch's OpenMP threads ~0.2 s, OpenBLAS's ~0.1 s) and slowed whatever ran next in the interleaved order:
#: measured here, PyTorch right after scikit-learn took 207 ms instead of 139 ms, and the floor after PyTorch 5–23 %
#: longer. With the pause every contender starts on an idle machine.
SETTLE = 0.3


def npnet_epoch(X, y, dtype, products, seed):
    """A fresh net and one timed epoch of npnet training; returns seconds."""
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype, products=products)
    opt = npnet.SGD(net, lr=LR)
    start = time.perf_counter()
    npnet.train(net, X, y, optimizer=opt, epochs=1, batch_size=BATCH, rng=rng, eval_train=False)
    return time.perf_counter() - start


def gemm_floor_epoch(n, dtype, seed, sizes=SIZES, batch=BATCH, X=None, update=False):
    """Only the matrix products of one epoch of training, into preallocated outputs; returns seconds.

    With ``X`` (N, 784) it also gathers each shuffled minibatch from X exactly as ``npnet.train`` does, and with
    ``update`` it also applies the SGD update W ← W − lr·dW as two NumPy passes (NumPy has no fused axpy): the
    floor plus the data movement that any shuffled-minibatch SGD loop written in NumPy must do.
    """
    rng = np.random.default_rng(seed)
    # values of training's scale (weights ~ 1/√fan_in, small δ), so nothing overflows into slow inf/NaN arithmetic
    Ws = [(rng.standard_normal((o, i)) / math.sqrt(i)).astype(dtype) for i, o in zip(sizes[:-1], sizes[1:])]
    acts = [rng.standard_normal((batch, s)).astype(dtype) for s in sizes]
    deltas = [(rng.standard_normal((batch, s)) * 1e-3).astype(dtype) for s in sizes[1:]]
    dWs = [np.empty_like(W) for W in Ws]
    scratch = [np.empty_like(W) for W in Ws]
    dXs = [np.empty((batch, s), dtype=dtype) for s in sizes[:-1]]
    order = rng.permutation(n)
    start = time.perf_counter()
    for step in range(math.ceil(n / batch)):
        if X is not None:
            np.take(X, order[step * batch:(step + 1) * batch], axis=0, out=acts[0], mode="clip")
        for k, W in enumerate(Ws):
            np.matmul(acts[k], W.T, out=acts[k + 1])
        for k in range(len(Ws) - 1, -1, -1):
            np.matmul(deltas[k].T, acts[k], out=dWs[k])
            if k:
                np.matmul(deltas[k], Ws[k], out=dXs[k])
        if update:
            for W, dW, tmp in zip(Ws, dWs, scratch):
                np.multiply(dW, LR, out=tmp)
                W -= tmp
    return time.perf_counter() - start


def minimal_numpy_epoch(X, y, dtype, seed, return_weights=False):
    """The same training epoch as ``npnet_epoch`` written as one flat NumPy loop with no library around it.

    A reference for what any NumPy training loop costs here: every array preallocated, the fewest ufunc calls we
    found, the same initial weights, shuffle, gather and arithmetic as npnet (``tests/test_bench.py`` checks that
    it ends with npnet's weights). Returns seconds, or (seconds, [W1, b1, W2, …]) with ``return_weights``.
    """
    if X.shape[0] % BATCH:
        raise ValueError(f"minimal_numpy_epoch needs a multiple of {BATCH} samples, got {X.shape[0]}")
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    Ws = [layer.W.copy() for layer in net.dense]
    bs = [layer.b.copy() for layer in net.dense]
    dWs, dbs = [np.empty_like(W) for W in Ws], [np.empty_like(b) for b in bs]
    params = [(P, G, np.empty_like(P)) for W, b, dW, db in zip(Ws, bs, dWs, dbs) for P, G in ((W, dW), (b, db))]
    n, L = X.shape[0], len(Ws)
    Z = [np.empty((BATCH, s), dtype) for s in SIZES[1:]]      # pre-activations; Z[-1] = logits
    A = [np.empty((BATCH, s), dtype) for s in SIZES[:-1]]     # A[0] = minibatch, A[k] = relu(Z[k - 1])
    D = [np.empty((BATCH, s), dtype) for s in SIZES[1:]]      # δ = ∂L/∂Z per layer
    dA = [np.empty((BATCH, s), dtype) for s in SIZES[:-1]]
    ones = np.ones(BATCH, dtype)
    start = time.perf_counter()
    order = rng.permutation(n)
    for s in range(0, n, BATCH):
        idx = order[s:s + BATCH]
        np.take(X, idx, axis=0, out=A[0], mode="clip")
        for k in range(L):
            np.matmul(A[k], Ws[k].T, out=Z[k])
            Z[k] += bs[k]
            if k < L - 1:
                np.maximum(Z[k], 0, out=A[k + 1])
        logits, delta = Z[-1], D[-1]                            # softmax cross-entropy gradient (loss unused)
        np.subtract(logits, logits.max(axis=1, keepdims=True), out=delta)
        np.exp(delta, out=delta)
        delta /= delta.sum(axis=1, keepdims=True)
        delta[np.arange(BATCH), y[idx]] -= 1
        delta /= BATCH
        for k in range(L - 1, -1, -1):
            np.matmul(D[k].T, A[k], out=dWs[k])
            np.matmul(ones, D[k], out=dbs[k])
            if k:
                np.matmul(D[k], Ws[k], out=dA[k])
                np.greater(Z[k - 1], 0, out=D[k - 1])
                D[k - 1] *= dA[k]
        for P, G, tmp in params:
            np.multiply(G, LR, out=tmp)
            P -= tmp
    seconds = time.perf_counter() - start
    return (seconds, [P for P, _, _ in params]) if return_weights else seconds


def sklearn_epoch(X, y, dtype, seed):
    """scikit-learn's MLPClassifier, same sizes and SGD settings: one timed ``partial_fit`` epoch."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu", solver="sgd", batch_size=BATCH,
                        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0, shuffle=True,
                        random_state=seed)
    Xd = X.astype(dtype, copy=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(Xd[:BATCH], y[:BATCH], classes=np.arange(10))   # initialisation, not timed
        start = time.perf_counter()
        clf.partial_fit(Xd, y)
    return time.perf_counter() - start


def torch_epoch(X, y, dtype, seed):
    """PyTorch eager CPU, same network and SGD; one timed epoch. Only called when torch imports."""
    import torch

    torch.manual_seed(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X.astype(dtype, copy=False))
    yt = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    order = torch.randperm(Xt.shape[0], generator=gen)
    for s in range(0, Xt.shape[0], BATCH):
        idx = order[s:s + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def blas_info():
    """BLAS library, version and thread count, from threadpoolctl (installed with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"threadpoolctl": "not installed"}
    return [{k: v for k, v in pool.items() if k in ("internal_api", "version", "num_threads", "architecture",
                                                     "threading_layer", "prefix")} for pool in threadpool_info()]


def interleaved(contenders, rounds, progress):
    """Time every contender once per round, round after round; return {name: [seconds per round]}."""
    times = {name: [] for name in contenders}
    for r in range(1, rounds + 1):
        for name, fn in contenders.items():
            time.sleep(SETTLE)           # untimed: the previous contender's threads stop spinning
            times[name].append(fn())
        progress(f"round {r}/{rounds}: " + ", ".join(f"{n} {t[-1] * 1e3:.0f} ms" for n, t in times.items()))
    return times


def peak_memory_per_epoch(X, y, dtype, epochs, seed):
    """tracemalloc peak (bytes) of each of ``epochs`` consecutive training epochs of one net."""
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    opt = npnet.SGD(net, lr=LR)
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(epochs):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            npnet.train(net, X, y, optimizer=opt, epochs=1, batch_size=BATCH, rng=rng, eval_train=False)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    return peaks


def scaling(X, y, dtype, seed, quick, progress):
    """Time per epoch vs batch size and vs width: npnet (blas) against the GEMM floor of the same shapes."""
    rows = []
    n = X.shape[0]
    batches = (16, 64, 256) if quick else (16, 32, 64, 128, 256, 512, 1024)
    widths = (64, 256) if quick else (64, 128, 256, 512, 1024)
    configs = [("batch", b, SIZES, b) for b in batches]
    configs += [("width", w, [784, w, w, w, w, w, 10], BATCH) for w in widths]
    for kind, value, sizes, batch in configs:
        def run_npnet():
            rng = np.random.default_rng(seed)
            net = npnet.mlp(sizes, "relu", "he_normal", rng=rng, dtype=dtype)
            start = time.perf_counter()
            npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=LR), epochs=1, batch_size=batch, rng=rng,
                        eval_train=False)
            return time.perf_counter() - start
        t = interleaved({"npnet": run_npnet, "floor": lambda: gemm_floor_epoch(n, dtype, seed, sizes, batch)},
                        1 if quick else 3, lambda _: None)
        npnet_s, floor_s = statistics.median(t["npnet"]), statistics.median(t["floor"])
        rows.append({"vary": kind, "value": value, "batch": batch, "width": sizes[1], "npnet_s": npnet_s,
                     "floor_s": floor_s, "ratio": npnet_s / floor_s})
        progress(f"scaling {kind}={value}: npnet {npnet_s * 1e3:.1f} ms, floor {floor_s * 1e3:.1f} ms, "
                 f"×{npnet_s / floor_s:.2f}")
    return rows


TARGETS = [  # (description, numerator, denominator, bound) — ratios of medians measured in this run
    ("npnet fast / GEMM floor, float64 ≤ 1.15", "npnet_blas_float64", "gemm_floor_float64", 1.15),
    ("npnet fast / GEMM floor, float32 ≤ 1.25", "npnet_blas_float32", "gemm_floor_float32", 1.25),
    ("npnet fast / (GEMM floor + minibatch gather), float64", "npnet_blas_float64", "floor_gather_float64", None),
    ("npnet fast / (GEMM floor + minibatch gather), float32", "npnet_blas_float32", "floor_gather_float32", None),
    ("GEMM floor + gather + SGD update / GEMM floor, float64", "floor_gather_update_float64", "gemm_floor_float64",
     None),
    ("GEMM floor + gather + SGD update / GEMM floor, float32", "floor_gather_update_float32", "gemm_floor_float32",
     None),
    ("minimal NumPy loop / GEMM floor, float64", "numpy_minimal_float64", "gemm_floor_float64", None),
    ("minimal NumPy loop / GEMM floor, float32", "numpy_minimal_float32", "gemm_floor_float32", None),
    ("npnet fast / minimal NumPy loop, float64", "npnet_blas_float64", "numpy_minimal_float64", None),
    ("npnet fast / minimal NumPy loop, float32", "npnet_blas_float32", "numpy_minimal_float32", None),
    ("npnet exact / npnet fast, float64 ≤ 8", "npnet_exact_float64", "npnet_blas_float64", 8.0),
    ("npnet exact / npnet fast, float32 ≤ 8", "npnet_exact_float32", "npnet_blas_float32", 8.0),
    ("npnet fast / scikit-learn, float64 ≤ 1/1.8", "npnet_blas_float64", "sklearn_float64", 1 / 1.8),
    ("npnet fast / scikit-learn, float32 ≤ 1/1.8", "npnet_blas_float32", "sklearn_float32", 1 / 1.8),
    ("npnet fast / PyTorch, float64 ≤ 1/2", "npnet_blas_float64", "torch_float64", 0.5),
    ("npnet fast / PyTorch, float32 ≤ 1/2", "npnet_blas_float32", "torch_float32", 0.5),
    ("npnet float32 / float64 (≈ 0.5 where GEMM is)", "npnet_blas_float32", "npnet_blas_float64", None),
    ("GEMM floor float32 / float64", "gemm_floor_float32", "gemm_floor_float64", None),
]


def main(argv=None):
    p = common.parser("python -m experiments.bench", __doc__.split("\n")[0], dtype=False)  # runs both dtypes
    p.add_argument("--rounds", type=common.positive_int_arg, default=None,
                   help="interleaved rounds per contender (default: 15; 2 with --quick)")
    args, out, progress = common.start(p, argv)
    rounds = args.rounds or (2 if args.quick else 15)
    n = 1_000 if args.quick else N_TRAIN
    split = common.load_mnist(args, n, 1)
    X, y = split.X_train, split.y_train
    has_torch = torch_available()
    threads = blas_info()
    progress(f"data: {split.source}; BLAS: {threads}")
    contenders = {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        Xd = X.astype(dtype)
        contenders[f"gemm_floor_{name}"] = (lambda d=dtype: gemm_floor_epoch(n, d, args.seed))
        contenders[f"floor_gather_{name}"] = (lambda Xd=Xd, d=dtype: gemm_floor_epoch(n, d, args.seed, X=Xd))
        contenders[f"floor_gather_update_{name}"] = (
            lambda Xd=Xd, d=dtype: gemm_floor_epoch(n, d, args.seed, X=Xd, update=True))
        contenders[f"numpy_minimal_{name}"] = (lambda Xd=Xd, d=dtype: minimal_numpy_epoch(Xd, y, d, args.seed))
        contenders[f"npnet_blas_{name}"] = (lambda Xd=Xd, d=dtype: npnet_epoch(Xd, y, d, "blas", args.seed))
        contenders[f"npnet_exact_{name}"] = (lambda Xd=Xd, d=dtype: npnet_epoch(Xd, y, d, "exact", args.seed))
        contenders[f"sklearn_{name}"] = (lambda Xd=Xd, d=dtype: sklearn_epoch(Xd, y, d, args.seed))
        if has_torch:
            contenders[f"torch_{name}"] = (lambda Xd=Xd, d=dtype: torch_epoch(Xd, y, d, args.seed))
    torch_info = None
    if has_torch:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        torch_info = {"version": torch.__version__, "threads": torch.get_num_threads()}
    else:
        progress("PyTorch is not installed: its rows are skipped (torch is never an npnet dependency)")
    for fn in contenders.values():   # warm-up: first-call costs (imports, BLAS thread start) are not timed
        fn()
    times = interleaved(contenders, rounds, progress)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratios = []
    for text, num, den, bound in TARGETS:
        if num in median and den in median:
            value = median[num] / median[den]
            # the same ratio taken within each round, then the median: both sides saw the same neighbours
            paired = statistics.median(a / b for a, b in zip(times[num], times[den]))
            # and of the fastest rounds: noise on a shared machine only ever adds time
            of_minima = min(times[num]) / min(times[den])
            ratios.append({"target": text, "ratio": value, "paired_ratio": paired, "ratio_of_minima": of_minima,
                           "bound": bound, "met": None if bound is None else value <= bound})
    peaks = {np.dtype(d).name: peak_memory_per_epoch(X.astype(d), y, d, 2 if args.quick else 4, args.seed)
             for d in (np.float64, np.float32)}
    scale = scaling(X, y, np.float64, args.seed, args.quick, progress)

    print()
    print(f"data: {split.source}; {n} samples, batch {BATCH}, one epoch; median of {rounds} interleaved rounds")
    print(common.format_table(["contender", "s/epoch", "min", "max"],
                              [[k, f"{median[k]:.4f}", f"{min(v):.4f}", f"{max(v):.4f}"] for k, v in times.items()]))
    print()
    print(common.format_table(["ratio (same run)", "of medians", "per round", "of minima", "target met"],
                              [[r["target"], f"{r['ratio']:.3f}", f"{r['paired_ratio']:.3f}",
                                f"{r['ratio_of_minima']:.3f}", "-" if r["met"] is None else r["met"]]
                               for r in ratios]))
    print()
    for name, pk in peaks.items():
        print(f"peak traced memory per epoch, {name}: " + ", ".join(f"{b / 2**20:.2f} MiB" for b in pk))
    print(common.format_table(["vary", "value", "npnet ms", "floor ms", "ratio"],
                              [[r["vary"], r["value"], f"{r['npnet_s'] * 1e3:.1f}", f"{r['floor_s'] * 1e3:.1f}",
                                f"{r['ratio']:.2f}"] for r in scale]))

    fig, ax = common.plt.subplots(figsize=(8, 4.5))
    names = list(median)
    colors = ["C0" if "floor" in k else "C4" if "minimal" in k else "C1" if "npnet_blas" in k
              else "C2" if "exact" in k else "C3" for k in names]
    ax.barh(names, [median[k] * 1e3 for k in names], color=colors)
    ax.set_xlabel(f"ms per epoch (median of {rounds} rounds)")
    ax.set_title(f"ReLU 784-5×100-10, SGD, {n} samples, batch {BATCH}", fontsize=9)
    ax.invert_yaxis()
    common.save_figure(fig, out / "bench.png")
    common.write_json(out / "bench.json", {
        "experiment": "bench", "data": split.info,
        "config": {"seed": args.seed, "quick": args.quick, "rounds": rounds, "sizes": SIZES, "batch_size": BATCH,
                   "lr": LR, "n_samples": n},
        "numpy": np.__version__, "blas": threads,
        "cpu_count": os.cpu_count(), "torch": torch_info, "seconds": times, "median_seconds": median,
        "ratios": ratios, "peak_memory_bytes_per_epoch": peaks, "scaling": scale,
    })
    progress(f"wrote {out}/bench.png and {out}/bench.json")


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.bench"))
