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
fused into the weight GEMM, and that loop again behind small Dense/ReLU/softmax objects with a loss value and a
finiteness check per step. "npnet fast" is ``mlp(..., products="scipy_blas")`` trained with ``SGD(fused=True)``;
"npnet blas" is the default (NumPy's BLAS, dW set every step). Each loop takes all the products of a step from
one BLAS library: alternating NumPy's and SciPy's makes their thread pools fight (see ``npnet.products``).
"""
import contextlib
import json
import math
import os
import re
import statistics
import time
import tracemalloc
import warnings

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

import npnet

from . import _common as common
from . import _plotting as plotting

SIZES = [784, 100, 100, 100, 100, 100, 10]
BATCH = 100
N_TRAIN = 8_000
LR = 0.01
#: seconds to wait, untimed, before each timed contender. Thread pools keep spinning after their last operation
#: (PyTorch's OpenMP threads ~0.2 s, OpenBLAS's ~0.1 s) and slowed whatever ran next in the interleaved order:
#: measured here, PyTorch right after scikit-learn took 207 ms instead of 139 ms, and the floor after PyTorch 5–23 %
#: longer. With the pause every contender starts on an idle machine.
SETTLE = 0.3


def npnet_epoch(X, y, dtype, products, seed, fused=False):
    """A fresh net and one timed epoch of npnet training (``fused``: ``SGD(fused=True)``, needs "scipy_blas")."""
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype, products=products)
    opt = npnet.SGD(net, lr=LR, fused=fused)
    start = time.perf_counter()
    npnet.train(net, X, y, optimizer=opt, epochs=1, batch_size=BATCH, rng=rng, eval_train=False)
    return time.perf_counter() - start


def _products(library, dtype):
    """The three products of a training step on C-ordered arrays, by ``library``'s BLAS: (Z = A Wᵀ, dW = δᵀA, dX = δW).

    SciPy's wrappers are column-major, so each C-ordered M goes in as the Fortran-ordered view Mᵀ (no copy).
    """
    if library == "numpy":
        return (lambda A, W, Z: np.matmul(A, W.T, out=Z), lambda D, A, dW: np.matmul(D.T, A, out=dW),
                lambda D, W, dX: np.matmul(D, W, out=dX))
    from scipy.linalg import blas
    gemm = blas.dgemm if np.dtype(dtype) == np.float64 else blas.sgemm
    return (lambda A, W, Z: gemm(1.0, W.T, A.T, trans_a=1, c=Z.T, overwrite_c=1),      # Zᵀ = W Aᵀ
            lambda D, A, dW: gemm(1.0, A.T, D.T, trans_b=1, c=dW.T, overwrite_c=1),    # dWᵀ = Aᵀ δ
            lambda D, W, dX: gemm(1.0, W.T, D.T, c=dX.T, overwrite_c=1))               # dXᵀ = Wᵀ δᵀ


def gemm_floor_epoch(n, dtype, seed, sizes=SIZES, batch=BATCH, X=None, update=False, library="numpy"):
    """Only the matrix products of one epoch of training, into preallocated outputs; returns seconds.

    ``library``: whose BLAS runs them, "numpy" (``np.matmul``) or "scipy" (``scipy.linalg.blas``, what npnet's
    "blas" mode uses). With ``X`` (N, 784) it also gathers each shuffled minibatch from X exactly as ``npnet.train``
    does, and with ``update`` it also applies the SGD update W ← W − lr·dW as two NumPy passes (NumPy has no fused
    axpy): the floor plus the data movement that a shuffled-minibatch SGD loop written in NumPy does.
    """
    forward, weight_grad, input_grad = _products(library, dtype)
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
            forward(acts[k], W, acts[k + 1])
        for k in range(len(Ws) - 1, -1, -1):
            weight_grad(deltas[k], acts[k], dWs[k])
            if k:
                input_grad(deltas[k], Ws[k], dXs[k])
        if update:
            for W, dW, tmp in zip(Ws, dWs, scratch):
                np.multiply(dW, LR, out=tmp)
                W -= tmp
    return time.perf_counter() - start


def _flat_start(X, dtype, seed):
    """What every hand-written loop starts from: npnet's initial weights (same seed and draws) and its buffers."""
    if X.shape[0] % BATCH:
        raise ValueError(f"the hand-written loops need a multiple of {BATCH} samples, got {X.shape[0]}")
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    Ws = [layer.W.copy() for layer in net.dense]
    bs = [layer.b.copy() for layer in net.dense]
    Z = [np.empty((BATCH, s), dtype) for s in SIZES[1:]]      # pre-activations; Z[-1] = logits
    A = [np.empty((BATCH, s), dtype) for s in SIZES[:-1]]     # A[0] = minibatch, A[k] = relu(Z[k - 1])
    D = [np.empty((BATCH, s), dtype) for s in SIZES[1:]]      # δ = ∂L/∂Z per layer
    dA = [np.empty((BATCH, s), dtype) for s in SIZES[:-1]]
    return rng, Ws, bs, Z, A, D, dA, np.ones(BATCH, dtype)


def _numpy_forward_delta(X, y, idx, Ws, bs, Z, A, delta):
    """Minibatch ``idx`` gathered into A[0], the forward pass by NumPy (Z[k] = A[k] Wₖᵀ + bₖ, A[k+1] = relu(Z[k])),
    and the output's δ."""
    np.take(X, idx, axis=0, out=A[0], mode="clip")
    for k in range(len(Ws)):
        np.matmul(A[k], Ws[k].T, out=Z[k])
        Z[k] += bs[k]
        if k < len(Ws) - 1:
            np.maximum(Z[k], 0, out=A[k + 1])
    _softmax_ce_delta(Z[-1], y[idx], delta)


def _softmax_ce_delta(logits, labels, delta):
    """δ = (softmax(logits) − onehot(labels)) / B, computed into ``delta`` (the loss value is not needed)."""
    np.subtract(logits, logits.max(axis=1, keepdims=True), out=delta)
    np.exp(delta, out=delta)
    delta /= delta.sum(axis=1, keepdims=True)
    delta[np.arange(len(labels)), labels] -= 1
    delta /= len(labels)


def _result(seconds, Ws, bs, return_weights):
    return (seconds, [P for W, b in zip(Ws, bs) for P in (W, b)]) if return_weights else seconds


def minimal_numpy_epoch(X, y, dtype, seed, return_weights=False):
    """The same training epoch as ``npnet_epoch`` written as one flat NumPy loop with no library around it.

    A reference for what any NumPy training loop costs here: every array preallocated, the fewest ufunc calls we
    found, the same initial weights, shuffle, gather and arithmetic as npnet (``tests/test_bench.py`` checks that
    it ends with npnet's weights). Returns seconds, or (seconds, [W1, b1, W2, …]) with ``return_weights``.
    """
    rng, Ws, bs, Z, A, D, dA, ones = _flat_start(X, dtype, seed)
    dWs, dbs = [np.empty_like(W) for W in Ws], [np.empty_like(b) for b in bs]
    params = [(P, G, np.empty_like(P)) for W, b, dW, db in zip(Ws, bs, dWs, dbs) for P, G in ((W, dW), (b, db))]
    n, L = X.shape[0], len(Ws)
    start = time.perf_counter()
    order = rng.permutation(n)
    for s in range(0, n, BATCH):
        _numpy_forward_delta(X, y, order[s:s + BATCH], Ws, bs, Z, A, D[-1])
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
    return _result(time.perf_counter() - start, Ws, bs, return_weights)


def optimised_numpy_epoch(X, y, dtype, seed, return_weights=False):
    """``minimal_numpy_epoch`` with the SGD step made as cheap as NumPy allows (NumPy's BLAS only).

    δ is scaled by lr once, at the output (a (B, 10) array): every later product is then lr times the gradient, so
    the weight-gradient product gives the step lr·dW itself and the update is one pass, W −= step. Same weights as
    npnet up to rounding.
    """
    rng, Ws, bs, Z, A, D, dA, ones = _flat_start(X, dtype, seed)
    steps = [(np.empty_like(W), np.empty_like(b)) for W, b in zip(Ws, bs)]
    n, L = X.shape[0], len(Ws)
    start = time.perf_counter()
    order = rng.permutation(n)
    for s in range(0, n, BATCH):
        _numpy_forward_delta(X, y, order[s:s + BATCH], Ws, bs, Z, A, D[-1])
        D[-1] *= LR
        for k in range(L - 1, -1, -1):
            if k:                                            # before W changes
                np.matmul(D[k], Ws[k], out=dA[k])
            step_W, step_b = steps[k]
            Ws[k] -= np.matmul(D[k].T, A[k], out=step_W)
            bs[k] -= np.matmul(ones, D[k], out=step_b)
            if k:
                np.greater(Z[k - 1], 0, out=D[k - 1])
                D[k - 1] *= dA[k]
    return _result(time.perf_counter() - start, Ws, bs, return_weights)


def scipy_flat_epoch(X, y, dtype, seed, return_weights=False):
    """The same epoch with every product through SciPy's BLAS, and SGD fused into the weight GEMM.

    BLAS is column-major, so a C-ordered array M is passed as the Fortran-ordered Mᵀ: Z = A Wᵀ is computed as
    Zᵀ = W Aᵀ, and so on. GEMM's C ← α·op(A) op(B) + β·C with C = W, β = 1 and α = −lr is the SGD update itself
    (no dW array, no extra pass); gemv does the same for b. Same weights as npnet up to rounding.
    """
    from scipy.linalg import blas
    gemm, gemv = (blas.dgemm, blas.dgemv) if np.dtype(dtype) == np.float64 else (blas.sgemm, blas.sgemv)
    rng, Ws, bs, Z, A, D, dA, ones = _flat_start(X, dtype, seed)
    n, L = X.shape[0], len(Ws)
    start = time.perf_counter()
    order = rng.permutation(n)
    for s in range(0, n, BATCH):
        idx = order[s:s + BATCH]
        np.take(X, idx, axis=0, out=A[0], mode="clip")
        for k in range(L):
            gemm(1.0, Ws[k].T, A[k].T, trans_a=1, c=Z[k].T, overwrite_c=1)            # Zᵀ = W Aᵀ
            Z[k] += bs[k]
            if k < L - 1:
                np.maximum(Z[k], 0, out=A[k + 1])
        _softmax_ce_delta(Z[-1], y[idx], D[-1])
        for k in range(L - 1, -1, -1):
            if k:                                                                      # dAᵀ = Wᵀ δᵀ
                gemm(1.0, Ws[k].T, D[k].T, c=dA[k].T, overwrite_c=1)
            gemm(-LR, A[k].T, D[k].T, trans_b=1, beta=1.0, c=Ws[k].T, overwrite_c=1)   # Wᵀ −= lr Aᵀ δ
            gemv(-LR, D[k].T, ones, beta=1.0, y=bs[k], overwrite_y=1)                  # b −= lr δᵀ 1
            if k:
                np.greater(Z[k - 1], 0, out=D[k - 1])
                D[k - 1] *= dA[k]
    return _result(time.perf_counter() - start, Ws, bs, return_weights)


class _Dense:
    """scipy_objects_epoch's layer: Z = X Wᵀ + b, and a backward that applies the fused SGD step."""

    def __init__(self, W, b, gemm, gemv):
        self.W, self.b, self.gemm, self.gemv = W, b, gemm, gemv
        self.Z = np.empty((BATCH, W.shape[0]), W.dtype)
        self.dX = np.empty((BATCH, W.shape[1]), W.dtype)
        self.ones = np.ones(BATCH, W.dtype)

    def forward(self, X):
        self.X = X
        self.gemm(1.0, self.W.T, X.T, trans_a=1, c=self.Z.T, overwrite_c=1)
        self.Z += self.b
        return self.Z

    def backward(self, D, need_dX=True):
        if need_dX:
            self.gemm(1.0, self.W.T, D.T, c=self.dX.T, overwrite_c=1)
        self.gemm(-LR, self.X.T, D.T, trans_b=1, beta=1.0, c=self.W.T, overwrite_c=1)
        self.gemv(-LR, D.T, self.ones, beta=1.0, y=self.b, overwrite_y=1)
        return self.dX


class _ReLU:
    """scipy_objects_epoch's activation: A = max(Z, 0), dZ = dA ⊙ [Z > 0]."""

    def __init__(self, width, dtype):
        self.A = np.empty((BATCH, width), dtype)
        self.dZ = np.empty((BATCH, width), dtype)

    def forward(self, Z):
        self.Z = Z
        return np.maximum(Z, 0, out=self.A)

    def backward(self, dA):
        np.greater(self.Z, 0, out=self.dZ)
        self.dZ *= dA
        return self.dZ


class _SoftmaxCE:
    """scipy_objects_epoch's loss: the mean cross-entropy value, and δ = (softmax − onehot) / B."""

    def __init__(self, dtype):
        self.delta = np.empty((BATCH, SIZES[-1]), dtype)

    def forward(self, Z, labels):
        shifted = np.subtract(Z, Z.max(axis=1, keepdims=True), out=self.delta)
        rows = np.arange(len(labels))
        picked = shifted[rows, labels]
        np.exp(shifted, out=self.delta)
        total = self.delta.sum(axis=1, keepdims=True)
        self.delta /= total
        self.delta[rows, labels] -= 1
        self.delta /= len(labels)
        return float(np.mean(np.log(total[:, 0]) - picked))

    def backward(self):
        return self.delta


def scipy_objects_epoch(X, y, dtype, seed, return_weights=False):
    """``scipy_flat_epoch`` behind Dense / ReLU / softmax-CE objects, with a loss value and a finiteness check every
    step, as a library's loop has them: what structure costs, without npnet's argument checks."""
    from scipy.linalg import blas
    gemm, gemv = (blas.dgemm, blas.dgemv) if np.dtype(dtype) == np.float64 else (blas.sgemm, blas.sgemv)
    rng, Ws, bs, _, A, _, _, _ = _flat_start(X, dtype, seed)
    layers = []
    for W, b in zip(Ws, bs):
        layers += [_Dense(W, b, gemm, gemv), _ReLU(W.shape[0], dtype)]
    layers.pop()                                   # no ReLU after the logits
    loss = _SoftmaxCE(dtype)
    n = X.shape[0]
    start = time.perf_counter()
    order = rng.permutation(n)
    for s in range(0, n, BATCH):
        idx = order[s:s + BATCH]
        out = np.take(X, idx, axis=0, out=A[0], mode="clip")
        for layer in layers:
            out = layer.forward(out)
        if not math.isfinite(loss.forward(out, y[idx])):
            raise FloatingPointError("loss diverged")
        grad = loss.backward()
        for layer in layers[:0:-1]:
            grad = layer.backward(grad)
        layers[0].backward(grad, need_dX=False)
    return _result(time.perf_counter() - start, Ws, bs, return_weights)


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
    """Time per epoch vs batch size and vs width: npnet fast against the GEMM floor (same BLAS) of the same shapes."""
    rows = []
    n = X.shape[0]
    batches = (16, 64, 256) if quick else (16, 32, 64, 128, 256, 512, 1024)
    widths = (64, 256) if quick else (64, 128, 256, 512, 1024)
    configs = [("batch", b, SIZES, b) for b in batches]
    configs += [("width", w, [784, w, w, w, w, w, 10], BATCH) for w in widths]
    for kind, value, sizes, batch in configs:
        def run_npnet():
            rng = np.random.default_rng(seed)
            net = npnet.mlp(sizes, "relu", "he_normal", rng=rng, dtype=dtype, products="scipy_blas")
            start = time.perf_counter()
            npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=LR, fused=True), epochs=1, batch_size=batch,
                        rng=rng, eval_train=False)
            return time.perf_counter() - start
        floor = (lambda: gemm_floor_epoch(n, dtype, seed, sizes, batch, library="scipy"))
        t = interleaved({"npnet": run_npnet, "floor": floor}, 1 if quick else 3, lambda _: None,
                        0.0 if quick else SETTLE)
        npnet_s, floor_s = statistics.median(t["npnet"]), statistics.median(t["floor"])
        rows.append({"vary": kind, "value": value, "batch": batch, "width": sizes[1], "npnet_s": npnet_s,
                     "floor_s": floor_s, "ratio": npnet_s / floor_s})
        progress(f"scaling {kind}={value}: npnet {npnet_s * 1e3:.1f} ms, floor {floor_s * 1e3:.1f} ms, "
                 f"×{npnet_s / floor_s:.2f}")
    return rows


#: the hand-written loops; the fastest of them in a run (smallest median) is the bar npnet is held to
LOOPS = ("numpy_minimal", "numpy_optimised", "scipy_flat", "scipy_objects")


def _targets():
    """[(description, numerator, denominator, bound)]: ratios of medians measured in one run, per dtype.

    "npnet fast" is npnet with ``SGD(fused=True)``; a denominator "fastest_loop" means the fastest of ``LOOPS``.
    """
    rows = []
    for d, floor_bound in (("float64", 1.10), ("float32", 1.30)):
        def row(text, num, den, bound=None, bound_text=""):
            return (f"{text}, {d}{bound_text}", f"{num}_{d}", f"{den}_{d}", bound)
        rows += [row("npnet fast / GEMM floor (NumPy's BLAS)", "npnet_fused", "gemm_floor", floor_bound,
                     f" ≤ {floor_bound:.2f}"),
                 row("npnet fast / GEMM floor (SciPy's BLAS, as npnet fast)", "npnet_fused", "gemm_floor_scipy"),
                 row("GEMM floor: SciPy's BLAS / NumPy's", "gemm_floor_scipy", "gemm_floor"),
                 row("GEMM floor + gather + SGD update / GEMM floor", "floor_gather_update", "gemm_floor"),
                 row("minimal NumPy loop / GEMM floor", "numpy_minimal", "gemm_floor"),
                 row("optimised NumPy loop / GEMM floor", "numpy_optimised", "gemm_floor"),
                 row("SciPy-BLAS flat loop, fused SGD / GEMM floor", "scipy_flat", "gemm_floor"),
                 row("SciPy-BLAS loop with objects / GEMM floor", "scipy_objects", "gemm_floor"),
                 row("npnet fast / fastest hand-written loop", "npnet_fused", "fastest_loop", 1.05, " ≤ 1.05"),
                 row("npnet, default SGD / npnet fast", "npnet_blas", "npnet_fused"),
                 row("npnet exact / npnet, default SGD", "npnet_exact", "npnet_blas", 8.0, " ≤ 8"),
                 row("npnet fast / scikit-learn", "npnet_fused", "sklearn", 1 / 1.7, " ≤ 1/1.7"),
                 row("npnet fast / PyTorch", "npnet_fused", "torch", 1 / 1.3, " ≤ 1/1.3"),
                 row("PyTorch / scikit-learn", "torch", "sklearn")]
    return rows + [("npnet fast float32 / float64 (≈ 0.5 where GEMM is)", "npnet_fused_float32",
                    "npnet_fused_float64", None),
                   ("GEMM floor float32 / float64", "gemm_floor_float32", "gemm_floor_float64", None)]


TARGETS = _targets()


def ratio_rows(times, targets=TARGETS):
    """Each target's ratio in this run: of medians, the median of per-round ratios, and of minima."""
    median = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for text, num, den, bound in targets:
        if den.startswith("fastest_loop_"):
            loops = [f"{loop}_{den[len('fastest_loop_'):]}" for loop in LOOPS]
            den = min((name for name in loops if name in median), key=median.get, default=den)
        if num not in median or den not in median:
            continue
        value = median[num] / median[den]
        # the same ratio taken within each round, then the median: both sides saw the same neighbours
        paired = statistics.median(a / b for a, b in zip(times[num], times[den]))
        # and of the fastest rounds: noise on a shared machine only ever adds time
        of_minima = min(times[num]) / min(times[den])
        rows.append({"target": text, "numerator": num, "denominator": den, "ratio": value, "paired_ratio": paired,
                     "ratio_of_minima": of_minima, "bound": bound,
                     "met": None if bound is None else value <= bound})
    return rows


def readme_table(result):
    """README's performance table (Markdown) from a bench.json: per ratio and dtype, the ratio of medians, then in
    parentheses the ratio of minima and the middle half of the per-round ratios (the run's noise)."""
    times = result["seconds"]
    table, targets = {}, {}
    for r in result["ratios"]:
        match = re.fullmatch(r"(.*), (float64|float32)(?: (≤ .*))?", r["target"])
        if match is None:
            continue
        label, dtype, bound = match.groups()
        per_round = [a / b for a, b in zip(times[r["numerator"]], times[r["denominator"]])]
        q1, _, q3 = statistics.quantiles(per_round, n=4) if len(per_round) > 1 else per_round * 3
        cell = f"{r['ratio']:.2f} ({r['ratio_of_minima']:.2f}; {q1:.2f}–{q3:.2f})"
        if r["denominator"].startswith(LOOPS):
            cell += f" vs {r['denominator'].rsplit('_', 1)[0]}"
        if r["numerator"].startswith("npnet") and r["denominator"].startswith(("sklearn", "torch")):
            cell += f": {1 / r['ratio']:.2f}× faster"
        table.setdefault(label, {})[dtype] = cell
        if bound:
            targets.setdefault(label, []).append(f"{bound} ({dtype[5:]}): {'met' if r['met'] else '**not met**'}")
    lines = [f"| ratio ({result['config']['rounds']} interleaved rounds, one run) | float64 | float32 | target |",
             "|---|---|---|---|"]
    for label, cells in table.items():
        lines.append(f"| {label} | {cells.get('float64', '–')} | {cells.get('float32', '–')} | "
                     f"{', '.join(targets.get(label, ['–']))} |")
    return "\n".join(lines)


#: each contender in words, and the colour groups of the figure
CONTENDER_WORDS = {
    "gemm_floor_scipy": "GEMM floor, SciPy's BLAS", "gemm_floor": "GEMM floor, NumPy's BLAS",
    "floor_gather_update": "floor + gather + SGD update", "floor_gather": "floor + minibatch gather",
    "numpy_minimal": "minimal NumPy loop", "numpy_optimised": "optimised NumPy loop",
    "scipy_flat": "SciPy-BLAS flat loop, fused SGD", "scipy_objects": "SciPy-BLAS loop with objects",
    "npnet_fused": "npnet fast (scipy_blas, fused SGD)", "npnet_blas": "npnet, default BLAS mode",
    "npnet_exact": "npnet, exact mode", "sklearn": "scikit-learn MLPClassifier", "torch": "PyTorch, eager CPU"}
BENCH_GROUPS = (("C0", "the GEMM floor: only the products (and the data movement any loop does)"),
                ("C4", "hand-written loops"), ("C1", "npnet"), ("C2", "npnet's exact mode"),
                ("C3", "other libraries"))


def contender_words(key):
    """gemm_floor_scipy_float64 → "GEMM floor, SciPy's BLAS, float64"."""
    base, _, dtype = key.rpartition("_")
    return f"{CONTENDER_WORDS.get(base, base)}, {dtype}"


def contender_color(key):
    return ("C0" if "floor" in key else "C4" if key.startswith(LOOPS) else "C1" if key.startswith(("npnet_blas",
            "npnet_fused")) else "C2" if "exact" in key else "C3")


def plot_bench(median, rounds, n, blas_threads, path):
    from matplotlib.patches import Patch
    fig, ax = common.plt.subplots(figsize=(8, 7.5))
    names = list(median)
    ax.barh([contender_words(k) for k in names], [median[k] * 1e3 for k in names],
            color=[contender_color(k) for k in names])
    ax.set_xlabel(f"ms per epoch (median of {rounds} interleaved rounds)")
    ax.set_ylabel("contender, dtype")
    ax.set_title(f"ReLU 784-5×100-10, SGD, {n} samples, batch {BATCH}; BLAS threads {blas_threads}", fontsize=9)
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.3)
    plotting.legend_outside(ax, "below", handles=[Patch(color=c, label=text) for c, text in BENCH_GROUPS], ncol=2)
    common.save_figure(fig, path)


def main(argv=None):
    p = common.parser("python -m experiments.bench", __doc__.split("\n")[0], dtype=False)  # runs both dtypes
    p.add_argument("--rounds", type=common.positive_int_arg, default=None,
                   help="interleaved rounds per contender (default: 15; 2 with --quick)")
    args, out, progress = common.start(p, argv)
    # --quick only checks that everything runs: one BLAS thread spares it the fight of NumPy's and SciPy's thread
    # pools when contenders follow each other with no pause (seconds per switch on a loaded machine)
    with threadpool_limits(1) if args.quick else contextlib.nullcontext():
        benchmark(args, out, progress)


def benchmark(args, out, progress):
    """The whole benchmark for parsed ``args``: time, print, and write bench.png and bench.json to ``out``."""
    rounds = args.rounds or (2 if args.quick else 15)
    n = 1_000 if args.quick else N_TRAIN
    split = common.load_mnist(args, n, 1)
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
        contenders[f"npnet_fused_{name}"] = (
            lambda Xd=Xd, d=dtype: npnet_epoch(Xd, y, d, "scipy_blas", args.seed, fused=True))
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
    print(common.format_table(["contender", "s/epoch", "min", "max"],
                              [[k, f"{median[k]:.4f}", f"{min(v):.4f}", f"{max(v):.4f}"] for k, v in times.items()]))
    print()
    print(common.format_table(["ratio (same run)", "denominator", "of medians", "per round", "of minima",
                               "target met"],
                              [[r["target"], r["denominator"], f"{r['ratio']:.3f}", f"{r['paired_ratio']:.3f}",
                                f"{r['ratio_of_minima']:.3f}", "-" if r["met"] is None else r["met"]]
                               for r in ratios]))
    print()
    for name, pk in peaks.items():
        print(f"peak traced memory per epoch, {name}: " + ", ".join(f"{b / 2**20:.2f} MiB" for b in pk))
    print(common.format_table(["vary", "value", "npnet ms", "floor ms", "ratio"],
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
                     "npnet_fused_*, scipy_*, gemm_floor_scipy_*": "SciPy's BLAS (scipy.linalg.blas gemm/gemv)"},
        "cpu_count": os.cpu_count(), "torch": torch_info, "seconds": times, "median_seconds": median,
        "ratios": ratios, "peak_memory_bytes_per_epoch": peaks, "scaling": scale,
    }
    common.write_json(out / "bench.json", result)
    progress(f"wrote {out}/bench.png and {out}/bench.json")
    # the outputs are moved into place only when main returns (one set), so the table comes from the dict itself
    print("\nREADME table (from this run's JSON; the same as bench.readme_table(json.load(open(path)))):")
    print(readme_table(json.loads(json.dumps(result))))


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.bench"))
