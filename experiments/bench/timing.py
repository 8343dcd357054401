"""How the benchmark times: interleaved rounds on an idle BLAS, the BLAS in use, peak memory per epoch, and the
time per epoch against the floor as batch and width grow."""
import os
import statistics
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_info

import npnet

from .floor import gemm_floor_epoch
from .workload import BATCH, LR, SETTLE, SIZES


def blas_info():
    """Every BLAS loaded (NumPy's and SciPy's each ship one): library, version, kernel, threads (threadpoolctl)."""
    keep = ("internal_api", "version", "num_threads", "architecture", "threading_layer", "prefix")
    return [{**{k: v for k, v in pool.items() if k in keep},
             "file": "/".join(pool.get("filepath", "").split(os.sep)[-2:])}   # e.g. numpy.libs/libscipy_openblas…
            for pool in threadpool_info()]


def blas_environment():
    """The OpenBLAS variables set on this machine: OPENBLAS_CORETYPE picks the kernel, so it changes timings."""
    return {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                           "OMP_NUM_THREADS")}


def interleaved(contenders, rounds, progress, settle=SETTLE):
    """Time every contender once per round, round after round; return {name: [seconds per round]}."""
    times = {name: [] for name in contenders}
    for r in range(1, rounds + 1):
        for name, fn in contenders.items():
            time.sleep(settle)           # untimed: the previous contender's threads stop spinning
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
    """Time per epoch vs batch size and vs width: npnet against the GEMM floor (same BLAS) of the same shapes."""
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
            npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=LR), epochs=1, batch_size=batch,
                        rng=rng, eval_train=False)
            return time.perf_counter() - start
        floor = (lambda: gemm_floor_epoch(n, dtype, seed, sizes, batch))
        t = interleaved({"npnet": run_npnet, "floor": floor}, 1 if quick else 3, lambda _: None,
                        0.0 if quick else SETTLE)
        npnet_s, floor_s = statistics.median(t["npnet"]), statistics.median(t["floor"])
        rows.append({"vary": kind, "value": value, "batch": batch, "width": sizes[1], "npnet_s": npnet_s,
                     "floor_s": floor_s, "ratio": npnet_s / floor_s})
        progress(f"scaling {kind}={value}: npnet {npnet_s * 1e3:.1f} ms, floor {floor_s * 1e3:.1f} ms, "
                 f"×{npnet_s / floor_s:.2f}")
    return rows
