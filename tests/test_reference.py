"""The fast layers and losses compute what npnet/reference.py's plain functions compute, on random shapes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npnet import Activation, Dense, MSE, SoftmaxCrossEntropy, reference

shapes = st.tuples(st.integers(1, 7), st.integers(1, 9), st.integers(1, 9))   # (B, D, H)
seeds = st.integers(0, 2**32 - 1)
TOL = dict(rtol=1e-12, atol=1e-14)


@given(shape=shapes, seed=seeds, products=st.sampled_from(["blas", "exact"]))
def test_dense_matches_the_reference(shape, seed, products):
    B, D, H = shape
    rng = np.random.default_rng(seed)
    layer = Dense(D, H, bias_init=("normal", {"std": 0.5}), rng=rng, products=products)
    X, dZ = rng.normal(size=(B, D)), rng.normal(size=(B, H))
    Z, cache = reference.dense_forward(X, layer.W, layer.b)
    np.testing.assert_allclose(layer.forward(X), Z, **TOL)
    dX, dW, db = reference.dense_backward(dZ, cache)
    np.testing.assert_allclose(layer.backward(dZ), dX, **TOL)
    np.testing.assert_allclose(layer.dW, dW, **TOL)
    np.testing.assert_allclose(layer.db, db, **TOL)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softsign", "identity"])
@given(shape=shapes, seed=seeds, at_zero=st.sampled_from([0.0, 0.5, 1.0]))
def test_activation_matches_the_reference(name, shape, seed, at_zero):
    B, _, H = shape
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=3.0, size=(B, H))
    Z[rng.random(Z.shape) < 0.2] = 0.0                      # exact zeros: relu'(0) is the convention at_zero
    dA = rng.normal(size=Z.shape)
    forward, backward = reference.ACTIVATIONS[name]
    A, cache = forward(Z)
    expected = backward(dA, cache, at_zero) if name == "relu" else backward(dA, cache)
    layer = Activation(name, relu_grad_at_zero=at_zero)
    np.testing.assert_allclose(layer.forward(Z), A, **TOL)
    np.testing.assert_allclose(layer.backward(dA), expected, **TOL)


@given(shape=shapes, seed=seeds, scale=st.sampled_from([0.1, 1.0, 30.0]))
def test_softmax_cross_entropy_matches_the_reference(shape, seed, scale):
    B, _, C = shape
    rng = np.random.default_rng(seed)
    Z, y = rng.normal(scale=scale, size=(B, C)), rng.integers(0, C, B)
    L, cache = reference.softmax_ce_forward(Z, y)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(Z, y) == pytest.approx(L, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(loss.backward(), reference.softmax_ce_backward(cache), **TOL)


@given(shape=shapes, seed=seeds)
def test_mse_matches_the_reference(shape, seed):
    B, _, C = shape
    rng = np.random.default_rng(seed)
    Yhat, T = rng.normal(size=(B, C)), rng.normal(size=(B, C))
    L, cache = reference.mse_forward(Yhat, T)
    loss = MSE()
    assert loss.forward(Yhat, T) == pytest.approx(L, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), reference.mse_backward(cache), **TOL)


def test_reference_sigmoid_is_the_usual_formula_without_overflow():
    z = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 800.0])
    with np.errstate(over="raise"):
        a, _ = reference.sigmoid_forward(z)
    # to ~1e-16 absolute; for z ≪ 0 the 1 + tanh form loses relative precision (1 + tanh(−15) cancels)
    np.testing.assert_allclose(a[1:-1], 1.0 / (1.0 + np.exp(-z[1:-1])), rtol=1e-13, atol=1e-16)
    assert a[0] == 0.0 and a[-1] == 1.0
