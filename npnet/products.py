"""Matrix-product backends for Dense layers: ``"blas"`` (fast, default) and ``"exact"`` (symmetry-exact).

Why two. A Dense layer needs three products per step: Z = X Wᵀ, dW = δᵀ X and dX = δ W. With BLAS
(``np.matmul``) each output element is a dot product, but *which* kernel and which summation order computes it
depends on where the element sits: GEMM works in register tiles, and columns in a partial tile at the edge, or
on another thread's share, are summed differently. So two hidden units with bitwise-equal weight rows can get
outputs that differ in the last bit (measured on this project's machines: ~1e-14 in float64 for a 10- or 100-column
output; which shapes are affected is machine-dependent). That round-off is what breaks the symmetry of an
all-zero network in float32 PyTorch runs — not the mathematics.

``"exact"`` computes every output element C[i, j] = A[i, :] · B[:, j] with its *own* dot-product call on two
contiguous vectors of the same length, each copied to a 64-byte-aligned row so that every call also sees the same
alignment. Every element is therefore produced by the same routine doing the same operations in the same order;
equal inputs give bitwise-equal outputs wherever they sit. In plain Python it would read

    for i in range(M):
        for j in range(N):
            C[i, j] = np.dot(A[i, :], B[:, j])

but that loop runs inside NumPy's ``matmul`` instead: given a broadcast stack of (1, K) @ (K, 1) products, NumPy
loops over the stack in C and hands each product to the same BLAS dot routine. (That is an implementation detail
of NumPy, which ``tests/test_exact.py`` guards.) A training step costs ≈ 4× a BLAS one
(``figures/bench.json``: 3.9× in float64, 5.0× in float32), not a Python loop's ~100×.

Column sums (db = Σ_b δ[b]) follow the same rule in exact mode: a dot product with a vector of ones.

A third backend, ``"scipy_blas"``, is ``"blas"`` through SciPy's BLAS wrappers (``scipy.linalg.blas``: gemm, gemv)
instead of ``np.matmul``, for one reason: GEMM's own ``C ← α·A B + β·C`` lets plain SGD update W inside the
weight-gradient product (β = 1, α = −lr), with no dW written and no extra pass over W (``SGD(fused=True)``,
``Dense.backward(sgd_lr=...)``). It is not the default because NumPy and SciPy each ship their own OpenBLAS with
its own thread pool, and the two must not alternate in a hot loop: each pool's threads spin for a while after a
call and starve the other's (measured here: a 100×784 GEMM ~20× slower when the two alternated; a training epoch
~10× slower with one ``@`` per step in an ``on_step`` callback). So a step takes all its products from one
library: NumPy's in ``"blas"`` and ``"exact"`` modes, SciPy's in ``"scipy_blas"``. Different BLAS libraries
also round differently, so "blas" and "scipy_blas" results differ in the last bits (and so may which equal units
BLAS happens to split).
"""
import functools

import numpy as np
from scipy.linalg import blas as scipy_blas

from . import _validate

_ALIGN = 64  # bytes: a cache line, and the widest SIMD load (AVX-512), so every vector starts alike


def aligned_rows(a):
    """Copy 2-D ``a`` (n, m) into a buffer in which every row is contiguous and starts on a 64-byte boundary."""
    n, m = a.shape
    item = a.dtype.itemsize
    stride = -(-m * item // _ALIGN) * _ALIGN // item          # row length rounded up to whole cache lines
    raw = np.empty(n * stride + _ALIGN // item, dtype=a.dtype)
    start = (-raw.ctypes.data % _ALIGN) // item                 # first element on a 64-byte boundary
    rows = raw[start:start + n * stride].reshape(n, stride)[:, :m]
    rows[...] = a
    return rows


@functools.lru_cache(maxsize=32)
def _ones(n, dtype):
    """A read-only vector of n ones (cached: one per batch size and dtype)."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


class Blas:
    """Products by BLAS (``np.matmul``): fastest; equal inputs may differ in the last bit by position."""

    name = "blas"

    @staticmethod
    def matmul(A, B, out=None):
        """A (M, K) @ B (K, N) → (M, N), written into ``out`` if given."""
        return np.matmul(A, B, out=out)

    @staticmethod
    def colsum(A, out=None):
        """Σ over rows: A (M, N) → (N,), written into ``out`` if given.

        Computed as 1ᵀA by BLAS (gemv): ~3× faster than ``A.sum(axis=0)`` at the sizes of a training step.
        """
        return np.matmul(_ones(A.shape[0], A.dtype), A, out=out)


#: SciPy's BLAS routine per dtype: C ← α·op(A) op(B) + β·C and y ← α·op(A) x + β·y
_GEMM = {np.dtype(np.float64): scipy_blas.dgemm, np.dtype(np.float32): scipy_blas.sgemm}
_GEMV = {np.dtype(np.float64): scipy_blas.dgemv, np.dtype(np.float32): scipy_blas.sgemv}


def _fortran_operand(M):
    """(a, trans) with a Fortran-ordered and op(a) = M: a transposed view of a C-ordered M needs no copy."""
    if M.flags.f_contiguous:
        return M, 0
    if M.flags.c_contiguous:
        return M.T, 1
    return np.asfortranarray(M), 0


def _writable_target(out, dtype):
    """``out`` itself if BLAS can write into it in place (C-ordered, of ``dtype``), else a copy to write back."""
    if out.flags.c_contiguous and out.dtype == dtype:
        return out
    return np.ascontiguousarray(out, dtype=dtype)


class ScipyBlas:
    """Products by SciPy's BLAS (gemm/gemv), with GEMM's α and β: ``"blas"`` that can fuse an SGD update."""

    name = "scipy_blas"

    @staticmethod
    def matmul(A, B, out=None, *, alpha=1.0, beta=0.0):
        """out ← alpha · A (M, K) @ B (K, N) + beta · out  → (M, N); ``beta`` needs ``out``.

        With the defaults, plain A @ B written into ``out`` if given (a new array otherwise).
        """
        if A.dtype != B.dtype or A.dtype not in _GEMM:   # rare: compute in the float type BLAS has for them
            dtype = np.result_type(A, B, np.float32)
            A, B = A.astype(dtype), B.astype(dtype)
        if out is None:
            if beta:
                raise ValueError("beta needs out (the array it scales)")
            out = np.empty((A.shape[0], B.shape[1]), dtype=A.dtype)
        # BLAS is column-major: the C-ordered out (M, N) is the Fortran-ordered outᵀ (N, M) = Bᵀ Aᵀ, in place
        a, trans_a = _fortran_operand(B.T)
        b, trans_b = _fortran_operand(A.T)
        target = _writable_target(out, A.dtype)
        _GEMM[A.dtype](alpha, a, b, beta=beta, c=target.T, trans_a=trans_a, trans_b=trans_b, overwrite_c=1)
        if target is not out:
            out[...] = target
        return out

    @staticmethod
    def colsum(A, out=None, *, alpha=1.0, beta=0.0):
        """out ← alpha · Σ over rows of A (M, N) + beta · out  → (N,); ``beta`` needs ``out``.

        Computed as Aᵀ1 by BLAS (gemv): ~3× faster than ``A.sum(axis=0)`` at the sizes of a training step.
        """
        if A.dtype not in _GEMV:
            A = A.astype(np.result_type(A, np.float32))
        if out is None:
            if beta:
                raise ValueError("beta needs out (the array it scales)")
            out = np.empty(A.shape[1], dtype=A.dtype)
        a, trans = _fortran_operand(A)
        target = _writable_target(out, A.dtype)
        _GEMV[A.dtype](alpha, a, _ones(A.shape[0], A.dtype), beta=beta, y=target, trans=1 - trans, overwrite_y=1)
        if target is not out:
            out[...] = target
        return out


class Exact:
    """Products in which every output element is one dot-product call: position never changes the result."""

    name = "exact"

    @staticmethod
    def matmul(A, B, out=None):
        """A (M, K) @ B (K, N) → (M, N), with C[i, j] = dot(A[i, :], B[:, j]) computed alike for every (i, j)."""
        rows = aligned_rows(A)[:, None, None, :]      # (M, 1, 1, K): row i of A
        cols = aligned_rows(B.T)[None, :, :, None]    # (1, N, K, 1): column j of B
        if out is None:
            out = np.empty((A.shape[0], B.shape[1]), dtype=np.result_type(A, B))
        np.matmul(rows, cols, out=out[:, :, None, None])   # (M, N, 1, 1): M·N separate dot products
        return out

    @classmethod
    def colsum(cls, A, out=None):
        """Σ over rows: A (M, N) → (N,), as 1ᵀA so that each column is summed by the same dot-product call."""
        total = cls.matmul(_ones(A.shape[0], A.dtype)[None, :], A)[0]
        if out is None:
            return total
        out[...] = total
        return out


BACKENDS = {"blas": Blas, "scipy_blas": ScipyBlas, "exact": Exact}


def get(name):
    """Return the backend named ``name`` ("blas", "scipy_blas" or "exact")."""
    return BACKENDS[_validate.choice("products", name, BACKENDS)]
