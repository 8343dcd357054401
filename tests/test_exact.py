"""The "exact" product backend: equal inputs give bitwise-equal outputs wherever they sit.

Only exactness of the exact mode is asserted. Whether BLAS happens to break a symmetry depends on the machine
(kernel, tile sizes, threads), so no test asserts that it does, or that it does not.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npnet
from npnet import probes
from npnet.products import Blas, Exact, aligned_rows

ODD_SHAPES = [(1, 1, 1), (1, 7, 1), (2, 3, 5), (3, 1, 4), (5, 17, 3), (7, 13, 11), (16, 16, 16), (17, 33, 9),
              (31, 64, 10), (64, 100, 10), (100, 784, 10), (33, 127, 65), (3, 1000, 2)]
DTYPES = [np.float64, np.float32]


def equal_rows(rng, n, m, dtype):
    """(n, m) whose rows are all one random row."""
    return np.tile(rng.normal(size=(1, m)), (n, 1)).astype(dtype)


def assert_all_rows_equal(A):
    assert all(np.array_equal(A[i], A[0]) for i in range(A.shape[0])), f"rows differ by up to {probes.row_spread(A)}"


def assert_all_cols_equal(A):
    assert_all_rows_equal(A.T)


# ---------------------------------------------------------------- Exact.matmul


@pytest.mark.parametrize("M, K, N", ODD_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_equal_columns_of_B_give_equal_output_columns(M, K, N, dtype):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    A = rng.normal(size=(M, K)).astype(dtype)
    B = equal_rows(rng, N, K, dtype).T            # (K, N), every column the same
    C = Exact.matmul(A, B)
    assert C.shape == (M, N) and C.dtype == dtype
    assert_all_cols_equal(C)


@pytest.mark.parametrize("M, K, N", ODD_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_equal_rows_of_A_give_equal_output_rows(M, K, N, dtype):
    rng = np.random.default_rng(M * 1000 + K * 10 + N + 1)
    A = equal_rows(rng, M, K, dtype)
    B = rng.normal(size=(K, N)).astype(dtype)
    C = Exact.matmul(A, B)
    assert C.shape == (M, N) and C.dtype == dtype
    assert_all_rows_equal(C)


@given(M=st.integers(1, 40), K=st.integers(1, 300), N=st.integers(1, 40), seed=st.integers(0, 2 ** 32 - 1),
       dtype=st.sampled_from(DTYPES), transposed=st.booleans())
def test_exactness_for_drawn_shapes(M, K, N, seed, dtype, transposed):
    rng = np.random.default_rng(seed)
    A = equal_rows(rng, M, K, dtype)
    B = equal_rows(rng, N, K, dtype)
    # the layer passes views such as W.T and dZ.T: non-contiguous operands must be handled alike
    A2 = np.asfortranarray(A) if transposed else A
    C = Exact.matmul(A2, B.T)                      # every row and every column equal: one value everywhere
    assert np.all(C == C[0, 0])
    np.testing.assert_allclose(C, A @ B.T, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("M, K, N", ODD_SHAPES)
def test_exact_agrees_with_blas(M, K, N):
    rng = np.random.default_rng(7)
    A, B = rng.normal(size=(M, K)), rng.normal(size=(K, N))
    # a sum of K products of N(0, 1) numbers: summation-order differences are ~K·ε·max|term|
    np.testing.assert_allclose(Exact.matmul(A, B), Blas.matmul(A, B), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(Exact.colsum(A), Blas.colsum(A), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("M, N", [(1, 1), (1, 9), (7, 3), (64, 10), (129, 17)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_colsum_of_equal_columns_is_equal(M, N, dtype):
    A = equal_rows(np.random.default_rng(M + N), N, M, dtype).T     # (M, N), equal columns
    s = Exact.colsum(A)
    assert s.shape == (N,) and s.dtype == dtype
    assert np.all(s == s[0])


@pytest.mark.parametrize("n, m", [(1, 1), (3, 5), (4, 16), (5, 17), (2, 100)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_aligned_rows_copies_into_64_byte_aligned_rows(n, m, dtype):
    a = np.random.default_rng(0).normal(size=(n, m)).astype(dtype)
    rows = aligned_rows(a)
    assert np.array_equal(rows, a) and rows.dtype == dtype
    assert all(rows[i].ctypes.data % 64 == 0 for i in range(n))
    assert rows.strides[1] == a.itemsize and rows.strides[0] % 64 == 0     # contiguous rows, whole cache lines


# ---------------------------------------------------------------- a Dense layer in exact mode


@pytest.mark.parametrize("B, n_in, n_out", [(1, 1, 2), (7, 5, 3), (16, 20, 16), (33, 17, 12), (64, 100, 10)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_with_equal_weight_rows(B, n_in, n_out, dtype):
    rng = np.random.default_rng(B + n_in + n_out)
    layer = npnet.Dense(n_in, n_out, weight_init="zeros", bias_init=("constant", {"value": 0.3}),
                        dtype=dtype, products="exact")
    layer.W[...] = equal_rows(rng, n_out, n_in, dtype)
    Z = layer.forward(rng.normal(size=(B, n_in)))
    assert Z.dtype == dtype
    assert_all_cols_equal(Z)                          # every unit computes the same output
    # a symmetric layer receives a gradient with equal columns (equal units downstream see equal δ)
    dZ = equal_rows(rng, n_out, B, dtype).T
    dX = layer.backward(dZ)
    assert_all_rows_equal(layer.dW)
    assert np.all(layer.db == layer.db[0])
    assert dX.shape == (B, n_in) and dX.dtype == dtype


def test_dense_exact_and_blas_agree():
    rng = np.random.default_rng(3)
    X, dZ = rng.normal(size=(50, 30)), rng.normal(size=(50, 20))
    layers = [npnet.Dense(30, 20, weight_init="he_normal", bias_init=("normal", {"std": 0.1}),
                          rng=np.random.default_rng(0), products=m) for m in ("exact", "blas")]
    Z = [layer.forward(X) for layer in layers]
    dX = [layer.backward(dZ) for layer in layers]
    np.testing.assert_allclose(Z[0], Z[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX[0], dX[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layers[0].dW, layers[1].dW, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layers[0].db, layers[1].db, rtol=1e-12, atol=1e-12)


def test_matmul_property_of_a_network():
    rng = np.random.default_rng(0)
    assert npnet.mlp([3, 4, 2], rng=rng, products="exact").products is Exact
    assert npnet.mlp([3, 4, 2], rng=rng).products is Blas
    mixed = npnet.Network([npnet.Dense(3, 4, weight_init="zeros", products="exact"),
                           npnet.Dense(4, 2, weight_init="zeros")])
    assert mixed.products is None


# ---------------------------------------------------------------- symmetric networks stay symmetric


SIZES = [20, 16, 12, 5]
INITS = {"zeros": "zeros", "constant": ("constant", {"value": 0.05})}


def make_optimizer(name, net):
    return {"sgd": lambda: npnet.SGD(net, lr=0.5),
            "momentum": lambda: npnet.SGD(net, lr=0.2, momentum=0.9),
            "adam": lambda: npnet.Adam(net, lr=0.01)}[name]()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("init_name", sorted(INITS))
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetric_start_stays_exactly_symmetric(activation, init_name, optimizer, dtype):
    rng = np.random.default_rng(42)
    net = npnet.mlp(SIZES, activation, INITS[init_name], bias_init=INITS[init_name], rng=rng, dtype=dtype,
                    products="exact")
    start = net.get_weights()
    X = rng.normal(size=(96, SIZES[0]))
    y = rng.integers(0, SIZES[-1], 96)
    npnet.train(net, X, y, optimizer=make_optimizer(optimizer, net), epochs=2, batch_size=16, rng=rng,
                eval_train=False)

    hidden, output = net.dense[:-1], net.dense[-1]
    for layer in hidden:
        assert_all_rows_equal(layer.W)               # every hidden unit is still a copy of unit 0
        assert np.all(layer.b == layer.b[0])
    if init_name == "constant":
        for layer in net.dense[1:]:
            assert_all_cols_equal(layer.W)           # ...and so every unit downstream weighs them alike
    for A in net.outputs[:-1]:
        assert_all_cols_equal(A)

    # not vacuous: the net did train. The output bias always moves; every weight moves too, except from an
    # all-zero tanh/relu start, where f(0) = 0 (tanh) or relu'(0) = 0 keeps the weights at exactly zero.
    assert not np.array_equal(output.b, start[f"fc{len(SIZES) - 1}.b"])
    if init_name == "constant" or activation == "sigmoid":
        assert all(not np.array_equal(layer.W, start[f"fc{k + 1}.W"]) for k, layer in enumerate(net.dense))
    assert all(p.value.dtype == dtype for p in net.parameters())


def test_exact_and_blas_train_alike_from_a_random_start():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(64, 10)), rng.integers(0, 3, 64)
    weights = []
    for products in ("exact", "blas"):
        net = npnet.mlp([10, 8, 6, 3], "tanh", "xavier_normal", rng=np.random.default_rng(0), products=products)
        npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=0.1), epochs=2, batch_size=16,
                    rng=np.random.default_rng(2), eval_train=False)
        weights.append(net.get_weights())
    for name in weights[0]:
        np.testing.assert_allclose(weights[0][name], weights[1][name], rtol=1e-10, atol=1e-12)
