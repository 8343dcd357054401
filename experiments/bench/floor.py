"""The GEMM floor: exactly the matrix products of one epoch of npnet's training, on preallocated arrays."""
import math
import time

import numpy as np

from .workload import BATCH, LR, SIZES


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
