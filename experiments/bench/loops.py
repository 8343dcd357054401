"""Hand-written training loops, each checked (tests/test_bench.py) to end with npnet's weights: a minimal and an
optimised NumPy loop, a flat loop on SciPy's BLAS with the SGD update fused, and that loop behind small objects."""
import math
import time

import numpy as np

import npnet

from .workload import BATCH, LR, SIZES

#: the hand-written loops; the fastest of them in a run (smallest median) is the bar npnet is held to
LOOPS = ("numpy_minimal", "numpy_optimised", "scipy_flat", "scipy_objects")
#: the loops on NumPy alone (NumPy's BLAS, as npnet): the fastest of them in a run is npnet's performance budget
NUMPY_LOOPS = LOOPS[:2]


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
