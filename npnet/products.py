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

Not here: plain SGD's update folded into the weight-gradient GEMM (C ← α·δᵀX + β·C with C = W). It saves about
a tenth of a step, but needs SciPy's BLAS wrappers (NumPy's ``matmul`` has no α, β) beside NumPy's own BLAS, whose
thread pools starve each other when they alternate, and an optimizer inside ``backward``. ``experiments.bench``
measures that loop, written out by hand, as a bound instead (docs/DEVELOPING.md).
"""
import functools

import numpy as np

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


BACKENDS = {"blas": Blas, "exact": Exact}


def get(name):
    """Return the backend named ``name`` ("blas" or "exact")."""
    return BACKENDS[_validate.choice("products", name, BACKENDS)]
