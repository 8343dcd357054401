"""The "scipy_blas" product backend: the same products as "blas", in place, with GEMM's α and β."""
import numpy as np
import pytest

from npnet.products import Blas, ScipyBlas


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scipy_blas_matmul_matches_numpy_for_every_layout(dtype):
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((7, 5)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for a in (A, np.asfortranarray(A), rng.standard_normal((14, 5)).astype(dtype)[::2]):   # C, Fortran, strided
        for b in (B, np.asfortranarray(B)):
            got = ScipyBlas.matmul(a, b)
            assert got.dtype == dtype
            np.testing.assert_allclose(got, Blas.matmul(a, b), rtol=tol, atol=tol)
            out = np.empty((7, 3), dtype)
            assert ScipyBlas.matmul(a, b, out=out) is out                          # written in place
            np.testing.assert_allclose(out, got, rtol=tol, atol=tol)
    np.testing.assert_allclose(ScipyBlas.colsum(A), A.sum(axis=0), rtol=tol, atol=tol)
    np.testing.assert_allclose(ScipyBlas.colsum(np.asfortranarray(A)), A.sum(axis=0), rtol=tol, atol=tol)


def test_scipy_blas_alpha_beta_accumulate_into_out():
    rng = np.random.default_rng(1)
    A, B, C, c = rng.random((4, 6)), rng.random((6, 3)), rng.random((4, 3)), rng.random(6)
    out, col = C.copy(), c.copy()
    ScipyBlas.matmul(A, B, out=out, alpha=-0.5, beta=1.0)                          # C ← C − ½·A B
    ScipyBlas.colsum(A, out=col, alpha=-0.5, beta=1.0)
    np.testing.assert_allclose(out, C - 0.5 * A @ B, rtol=1e-13)
    np.testing.assert_allclose(col, c - 0.5 * A.sum(axis=0), rtol=1e-13)
    with pytest.raises(ValueError, match="beta needs out"):
        ScipyBlas.matmul(A, B, beta=1.0)
    np.testing.assert_array_equal(ScipyBlas.matmul(np.arange(6).reshape(2, 3), np.ones((3, 2), int)),
                                  [[3.0, 3.0], [12.0, 12.0]])                      # integers: computed as floats


def test_scipy_blas_writes_into_any_out():
    rng = np.random.default_rng(2)
    A, B = rng.random((4, 6)), rng.random((6, 3))
    for out in (np.ones((4, 3), np.float32), np.ones((3, 4)).T, np.ones((4, 6))[:, ::2]):   # other dtype, F, strided
        expected = out + 2 * (A @ B)
        assert ScipyBlas.matmul(A, B, out=out, alpha=2.0, beta=1.0) is out
        np.testing.assert_allclose(out, expected, rtol=1e-6)
    col = np.ones(12)[::2]
    ScipyBlas.colsum(A, out=col, alpha=2.0, beta=1.0)
    np.testing.assert_allclose(col, 1 + 2 * A.sum(axis=0), rtol=1e-13)
