"""Backprop against central finite differences (npnet.gradcheck): activations, Dense, losses, whole networks.

Tolerance. In float64 every check asks for a max relative error |g − n| / max(|g| + |n|, tiny) below 1e-7.
The relative error is ill-conditioned for gradient entries near 0 (a saturated sigmoid under MSE gives ~1e-8),
so entries with |g| + |n| below ``tiny`` are compared absolutely instead. ``tiny`` is TINY = 1e-5 here, i.e. an
absolute error below 1e-12, because that is what a central difference can deliver: its round-off is
~ε·|L|/h, and on the 4 800 random networks of this file's shapes (inputs U(-1, 1), h = 1e-3, order 4) it reached
3e-13 on small entries. With tiny = 1e-6 (absolute 1e-13) correct code failed on about one network in a thousand
(worst 3e-7), so a run of this file (300 networks) would fail about one time in four; with tiny = 1e-5 the worst
was 4e-8. A real bug (a wrong derivative, a missing 1/B, a transposed product) is off by O(|g|), far beyond either.
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import npnet
from npnet import Activation, Dense, activations, gradcheck, mlp

TOL = 1e-7
TINY = 1e-5        # see the module docstring: absolute comparison (to TOL·TINY = 1e-12) below |g| ≈ 1e-5

widths = st.integers(1, 8)
batches = st.integers(1, 8)
seeds = st.integers(0, 2 ** 32 - 1)
ACTIVATIONS = ["sigmoid", "tanh", "relu", "identity"]   # softsign: its f'' jumps at 0, so a pre-activation within h
# of 0 costs central differences O(h) accuracy, beyond TOL; tests/test_softsign.py checks it at its own tolerance
LOSSES = ["softmax_cross_entropy", "mse_float", "mse_labels"]


def signed(rng, size, low, high):
    """Uniform magnitudes in [low, high) with random signs: values kept away from 0 where that matters."""
    return rng.uniform(low, high, size=size) * rng.choice([-1.0, 1.0], size=size)


def target_for(loss, rng, B, C):
    """(loss name for gradcheck, target) for one of LOSSES."""
    if loss == "mse_float":
        return "mse", rng.normal(size=(B, C))
    return ("mse" if loss == "mse_labels" else loss), rng.integers(0, C, B)


# ---------------------------------------------------------------- activations and Dense


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "identity"])
@given(B=batches, n=widths, seed=seeds)
def test_activation_layer(name, B, n, seed):
    rng = np.random.default_rng(seed)
    Z = rng.uniform(-3.0, 3.0, size=(B, n))
    # |dout| >= 0.5 keeps every gradient entry dout·f'(z) >= 0.5·f'(3) ≈ 5e-3: well-conditioned
    dout = signed(rng, (B, n), 0.5, 1.5)
    errors = gradcheck.check_layer(Activation(name), Z, dout)
    assert errors.keys() == {"X"}
    assert errors["X"]["max_rel_error"] < TOL


@given(B=batches, n=widths, seed=seeds, at_zero=st.sampled_from([0.0, 1.0]))
def test_relu_layer_away_from_the_kink(B, n, seed, at_zero):
    rng = np.random.default_rng(seed)
    # |z| > 0.01 and the order-4 stencil moves z by at most 2h = 2e-3: no evaluation crosses the kink
    Z = signed(rng, (B, n), 0.011, 3.0)
    dout = signed(rng, (B, n), 0.5, 1.5)
    assert gradcheck.check_layer(Activation("relu", relu_grad_at_zero=at_zero), Z, dout)["X"]["max_rel_error"] < TOL


@given(B=batches, n_in=widths, n_out=widths, seed=seeds, products=st.sampled_from(["blas", "exact"]))
def test_dense_layer(B, n_in, n_out, seed, products):
    rng = np.random.default_rng(seed)
    layer = Dense(n_in, n_out, weight_init="xavier_normal", bias_init=("normal", {"std": 0.1}), rng=rng,
                  products=products)
    X, dout = rng.normal(size=(B, n_in)), rng.normal(size=(B, n_out))
    errors = gradcheck.check_layer(layer, X, dout, tiny=TINY)
    assert errors.keys() == {"X", "W", "b"}
    assert max(r["max_rel_error"] for r in errors.values()) < TOL


# ---------------------------------------------------------------- losses


@given(B=batches, C=st.integers(2, 8), seed=seeds, scale=st.sampled_from([0.1, 0.5, 1.0]))
def test_softmax_cross_entropy(B, C, seed, scale):
    # logits of unit scale. Much wider logits make the loss large (round-off ∝ |L|) and some p_c/B tiny: at
    # scale 3 that reaches 1e-7 on correct code, a limit of the difference quotient, not of the loss
    rng = np.random.default_rng(seed)
    Z, y = scale * rng.normal(size=(B, C)), rng.integers(0, C, B)
    assert gradcheck.check_loss("softmax_cross_entropy", Z, y, tiny=TINY)["max_rel_error"] < TOL


@given(B=batches, C=widths, seed=seeds)
def test_mse_with_float_target(B, C, seed):
    rng = np.random.default_rng(seed)
    assert gradcheck.check_loss("mse", rng.normal(size=(B, C)), rng.normal(size=(B, C)), tiny=TINY)["max_rel_error"] < TOL


@given(B=batches, C=widths, seed=seeds)
def test_mse_with_int_labels(B, C, seed):
    rng = np.random.default_rng(seed)
    assert gradcheck.check_loss("mse", rng.normal(size=(B, C)), rng.integers(0, C, B), tiny=TINY)["max_rel_error"] < TOL


def test_losses_by_hand():
    # values worked out on paper, as an anchor for the finite-difference checks above
    Z = np.array([[0.0, np.log(3.0)]])                  # softmax = (1/4, 3/4)
    ce = npnet.SoftmaxCrossEntropy()
    assert ce.forward(Z, np.array([1])) == pytest.approx(np.log(4.0 / 3.0), rel=1e-15)
    np.testing.assert_allclose(ce.backward(), [[0.25, -0.25]], rtol=1e-15)
    mse = npnet.MSE()
    assert mse.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0])) == (1 + 1 + 4 + 16) / 4
    np.testing.assert_allclose(mse.backward(), 2.0 / 4 * np.array([[1.0, 1.0], [2.0, 4.0]]))


def test_cross_entropy_is_stable_for_huge_logits():
    ce = npnet.SoftmaxCrossEntropy()
    value = ce.forward(np.array([[1000.0, 0.0], [0.0, -1000.0]]), np.array([1, 0]))
    assert value == pytest.approx(500.0, rel=1e-15)       # (1000 + 0) / 2, without overflow
    np.testing.assert_allclose(ce.backward(), [[0.5, -0.5], [-0.0, 0.0]], atol=1e-300)


# ---------------------------------------------------------------- whole networks


def relu_safe_batch(net, rng, B, d, margin=0.02, tries_per_row=200):
    """B input rows from U(-1, 1) whose every ReLU pre-activation has |z| >= margin, or None.

    A sample's pre-activations depend on its own row only, so rows are drawn one at a time and kept if clear of
    the kinks. With |x| <= 1 no perturbation of the order-4 stencil (at most 2h = 2e-3 on one parameter) moves a
    pre-activation by more than ~6e-3 < margin, so check has (almost) no coordinates to leave out.
    """
    relus = [layer for layer in net.layers if getattr(layer, "name", None) == "relu"]
    rows = []
    for _ in range(tries_per_row * B):
        x = rng.uniform(-1.0, 1.0, size=(1, d))
        net.forward(x)
        if all(np.abs(layer._Z).min() >= margin for layer in relus):
            rows.append(x)
            if len(rows) == B:
                return np.concatenate(rows)
    return None


def build(activation, d, h1, h2, c, B, seed):
    rng = np.random.default_rng(seed)
    net = mlp([d, h1, h2, c], activation, "xavier_normal", bias_init=("normal", {"std": 0.1}), rng=rng)
    X = relu_safe_batch(net, rng, B, d) if activation == "relu" else rng.uniform(-1.0, 1.0, size=(B, d))
    return net, X, rng


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(d=widths, h1=widths, h2=widths, c=widths, B=batches, seed=seeds)
def test_three_layer_network(activation, loss, d, h1, h2, c, B, seed):
    if loss == "softmax_cross_entropy":
        c = max(c, 2)              # one class: the loss is identically 0 and the check would be vacuous
    net, X, rng = build(activation, d, h1, h2, c, B, seed)
    assume(X is not None)          # a ReLU unit stuck within the margin for every input: rare, redrawn
    loss_name, target = target_for(loss, rng, B, c)
    before = {k: v.tobytes() for k, v in net.get_weights().items()}

    # tiny: entries with |g| below TINY are compared absolutely (see the module docstring)
    report = gradcheck.check(net, X, target, loss_name, tiny=TINY, precision="native", kinks="skip")

    assert report.keys() == {"fc1.W", "fc1.b", "fc2.W", "fc2.b", "fc3.W", "fc3.b"}
    for name, r in report.items():
        size = np.prod(net.get_weights()[name].shape)
        assert r.max_rel_error < TOL, (name, r)
        # coordinates whose perturbation crosses a ReLU kink are left out; most must still have been checked
        assert r.n_kink <= size / 2, (name, r)
        if activation != "relu":
            assert r.n_kink == 0
    assert {k: v.tobytes() for k, v in net.get_weights().items()} == before     # every entry restored
    assert any(np.any(p.grad != 0) for p in net.parameters())                    # something was checked


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "identity"])
def test_float32_network_passes_a_looser_check_and_stays_float32(activation):
    rng = np.random.default_rng(3)
    net32 = mlp([6, 8, 7, 4], activation, "xavier_normal", ("normal", {"std": 0.1}), rng=rng, dtype=np.float32)
    X, y = rng.uniform(-1.0, 1.0, size=(8, 6)), rng.integers(0, 4, 8)
    # float32: ε ≈ 1.2e-7, so the difference quotient carries ~ε·|L|/h ≈ 1e-5 of noise; entries below
    # tiny = 1e-2 are compared absolutely (to 1e-4), larger ones relatively
    errors = gradcheck.check(net32, X, y, order=4, tiny=1e-2, precision="native", kinks="skip").rel_errors
    assert max(errors.values()) < 1e-2
    assert net32.dtype is np.float32
    assert all(p.value.dtype == np.float32 and p.grad.dtype == np.float32 for p in net32.parameters())
    # and its backprop is its float64 twin's, rounded
    net64 = mlp([6, 8, 7, 4], activation, "zeros", rng=rng)
    net64.set_weights(net32.get_weights())
    grads = {}
    for net in (net32, net64):
        loss = npnet.SoftmaxCrossEntropy()
        loss.forward(net.forward(X), y)
        net.backward(loss.backward())
        grads[net.dtype] = {p.name: p.grad.astype(np.float64) for p in net.parameters()}
    for name, g64 in grads[np.float64].items():
        np.testing.assert_allclose(grads[np.float32][name], g64, rtol=1e-4, atol=1e-6 * np.abs(g64).max())


# ---------------------------------------------------------------- the checker itself


def test_relu_kinks_are_detected_and_left_out():
    rng = np.random.default_rng(0)
    net = mlp([3, 4, 2], "relu", "xavier_normal", ("normal", {"std": 0.1}), rng=rng)
    X = rng.uniform(-1.0, 1.0, size=(5, 3))
    # put hidden unit 0's pre-activation for sample 0 within 1e-4 of the kink (above it)
    z = X[0] @ net.dense[0].W[0] + net.dense[0].b[0]
    net.dense[0].b[0] += 1e-4 - z
    y = rng.integers(0, 2, 5)
    report = gradcheck.check(net, X, y, kinks="skip")
    assert report["fc1.W"].n_skipped >= 1 and report["fc1.b"].n_skipped >= 1
    assert report["fc2.W"].n_kink == 0                      # fc2 does not feed a ReLU
    assert all(r.max_rel_error < TOL for r in report.values())
    # the coordinate left out really disagrees: fc1.b[0] straddles the kink
    loss = npnet.SoftmaxCrossEntropy()
    loss.forward(net.forward(X), y)
    net.backward(loss.backward())
    analytic = net.dense[0].db[0]
    numeric = gradcheck.partial_derivative(lambda: loss.forward(net.forward(X), y), net.dense[0].b, 0, 1e-3)
    assert gradcheck.rel_error(analytic, numeric) > 1e-3


def test_report_summary_is_floats():
    rng = np.random.default_rng(1)
    net = mlp([3, 4, 2], "tanh", "xavier_normal", rng=rng)
    errors = gradcheck.check(net, rng.normal(size=(4, 3)), rng.integers(0, 2, 4), tiny=TINY).rel_errors
    assert all(type(v) is float for v in errors.values())
    assert max(errors.values()) < TOL


@pytest.mark.parametrize("order", [2, 4])
def test_numerical_gradient_of_a_known_function(order):
    x = np.array([0.3, -1.2, 2.0])
    numeric = gradcheck.numerical_gradient(lambda: np.sum(np.sin(x)), x, order=order)
    np.testing.assert_allclose(numeric, np.cos(x), rtol=1e-9 if order == 4 else 1e-8)
    assert x.tolist() == [0.3, -1.2, 2.0]


def test_perturbed_entry_is_restored_on_error():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f():
        calls.append(x.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck.partial_derivative(f, x, 1, 1e-3)
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_a_wrong_derivative_is_caught(monkeypatch):
    # the checks above can fail: a 1% error in sigmoid's derivative shows up far above TOL
    rng = np.random.default_rng(2)
    net = mlp([3, 5, 4, 2], "sigmoid", "xavier_normal", rng=rng)
    X, y = rng.uniform(-1.0, 1.0, size=(6, 3)), rng.integers(0, 2, 6)
    for layer in net.layers:
        if isinstance(layer, Activation):
            monkeypatch.setattr(layer, "f_grad", lambda a, out=None: 1.01 * activations.sigmoid_grad(a))
    errors = gradcheck.check(net, X, y, tiny=TINY, precision="native").rel_errors
    assert errors["fc1.W"] > 1e-3 and errors["fc3.W"] < TOL      # only the layers below an activation


def test_a_missing_batch_mean_is_caught(monkeypatch):
    rng = np.random.default_rng(3)
    net = mlp([3, 5, 2], "tanh", "xavier_normal", rng=rng)
    X, y = rng.uniform(-1.0, 1.0, size=(4, 3)), rng.integers(0, 2, 4)
    original = npnet.SoftmaxCrossEntropy.backward
    monkeypatch.setattr(npnet.SoftmaxCrossEntropy, "backward", lambda self: original(self) * 4)
    assert min(gradcheck.check(net, X, y, tiny=TINY).rel_errors.values()) > 0.5


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "relu", "identity"])
def test_activation_backward_never_overwrites_its_dout(name):
    # backward writes f'(·) into a reused buffer; when dout *is* that buffer it must still read dout first
    act = Activation(name)
    act.forward(np.random.default_rng(0).normal(size=(5, 4)))
    d = np.random.default_rng(1).normal(size=(5, 4))
    once = act.backward(d).copy()
    fprime = once / d
    twice = act.backward(act.backward(d))        # its own result as dout
    np.testing.assert_allclose(twice, d * fprime * fprime, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("f, x, expected", [(activations.tanh_grad, 0.5, 0.75), (activations.sigmoid_grad, 0.5, 0.25),
                                            (activations.tanh_grad, np.array([0, 1]), [1.0, 0.0])])
def test_derivatives_accept_scalars_and_integer_arrays(f, x, expected):
    np.testing.assert_allclose(f(x), expected)


def test_check_layer_keeps_a_float32_input_float32_for_a_layer_without_dtype():
    # An Activation has no dtype of its own: the check must run in X's float32, with float32 tolerances, not on a
    # silent float64 copy (which would make every float32 activation check a float64 one).
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4, 5)).astype(np.float32)
    res = gradcheck.check_layer(Activation("tanh"), Z, rng.standard_normal((4, 5)).astype(np.float32))["X"]
    loose = gradcheck.check_layer(Activation("tanh"), Z.astype(np.float64), np.ones((4, 5)))["X"]
    assert res["atol"] > loose["atol"]


# ---------------------------------------------------------------- check's arguments: no pass on NaN, named errors
def _small_check_net():
    rng = np.random.default_rng(0)
    return mlp([3, 4, 2], "tanh", "xavier_normal", rng=rng), rng.normal(size=(5, 3)), rng.integers(0, 2, 5)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(tiny=float("nan")), ValueError, "^tiny must be finite, got nan$"),
    (dict(tiny=float("inf")), ValueError, "^tiny must be finite, got inf$"),
    (dict(tiny=-1), ValueError, r"^tiny must lie in \[0.0, inf\), got -1$"),
    (dict(n_worst=-1), ValueError, "^n_worst must be an integer >= 0, got -1$"),
    (dict(n_worst="a"), TypeError, "^n_worst must be an integer >= 0, got 'a' \\(str\\)$"),
    (dict(order=3), ValueError, "^order must be 2 or 4, got 3$"),
])
def test_check_refuses_bad_settings_in_one_line(kwargs, error, message):
    net, X, y = _small_check_net()
    with pytest.raises(error, match=message):
        gradcheck.check(net, X, y, **kwargs)


@pytest.mark.parametrize("net", [None, [1, 2], "net"])
def test_check_needs_a_network(net):
    with pytest.raises(TypeError, match="^net must be a Network"):
        gradcheck.check(net, np.zeros((2, 3)), np.zeros(2, dtype=int))


def test_a_nan_gradient_fails_the_check(monkeypatch):
    net, X, y = _small_check_net()
    original = npnet.SoftmaxCrossEntropy.backward
    monkeypatch.setattr(npnet.SoftmaxCrossEntropy, "backward", lambda self: original(self) * np.nan)
    report = gradcheck.check(net, X, y)
    assert not report.passed and np.isnan(report.max_rel_error)
    assert report.total("n_failures") == sum(p.value.size for p in net.parameters())
    assert "FAILED" in str(report)


def test_tiny_zero_counts_exact_agreement_at_zero_as_agreement():
    net = mlp([3, 4, 2], "relu", "zeros", rng=0)               # every gradient but the output bias's is exactly 0
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 0, 1, 1])
    report = gradcheck.check(net, X, y, tiny=0)
    assert report.passed and report["fc1.W"].max_rel_error == 0.0
    assert gradcheck.rel_error([0.0, 1.0], [0.0, 1.0], tiny=0).tolist() == [0.0, 0.0]
