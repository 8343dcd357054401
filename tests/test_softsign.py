"""softsign (Glorot & Bengio 2010): its derivative against finite differences and the mean-field gain that keeps
its layers' variance."""
import numpy as np
import pytest

from npnet import Activation, activations, gradcheck, meanfield, mlp


def test_softsign_values_and_derivative_in_closed_form():
    z = np.array([-3.0, -1.0, 0.0, 0.5, 9.0])
    a = activations.softsign(z)
    np.testing.assert_allclose(a, [-0.75, -0.5, 0.0, 1 / 3, 0.9], rtol=1e-15)
    np.testing.assert_allclose(activations.softsign_grad(a), 1.0 / (1.0 + np.abs(z)) ** 2, rtol=1e-14)
    out = np.empty_like(z)       # the in-place forms the layers use give the same numbers
    assert activations.softsign(z, out=out) is out and np.array_equal(out, a)
    g = np.empty_like(z)
    assert activations.softsign_grad(a, out=g) is g and np.array_equal(g, activations.softsign_grad(a))


def test_softsign_derivative_matches_central_differences():
    z = np.linspace(-6.0, 6.0, 241) + 1e-3     # no point exactly at 0, where f'' jumps (f' itself is continuous)
    x = z.copy()
    numeric = gradcheck.numerical_gradient(lambda: np.sum(activations.softsign(x)), x, h=1e-5, order=2)
    # atol ~1e-9: the round-off of the sum over 241 entries, divided by h
    np.testing.assert_allclose(activations.softsign_grad(activations.softsign(z)), numeric, rtol=1e-6, atol=1e-9)


def test_softsign_layer_passes_the_gradient_check():
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=2.0, size=(6, 7))
    res = gradcheck.check_layer(Activation("softsign"), Z, rng.normal(size=(6, 7)))["X"]
    assert res["passed"], res


def test_softsign_net_passes_the_gradient_check():
    rng = np.random.default_rng(1)
    net = mlp([5, 8, 6, 3], "softsign", "xavier_uniform", bias_init=("normal", {"std": 0.1}), rng=rng)
    report = gradcheck.check(net, rng.uniform(-1, 1, size=(4, 5)), rng.integers(0, 3, 4))
    assert all(r.max_rel_error < 1e-6 for r in report.values()), report


def test_softsign_mean_field_gain():
    # g = √(q / E[softsign(√q z)²]): 1 as q → 0 (slope 1 at 0, like tanh), growing with q; checked by Monte Carlo.
    # softsign(u) ≈ u − u|u| near 0 (tanh: u − u³/3), so g − 1 ≈ E|z|³ √q = 2√(2/π) √q: linear in √q, not in q
    for q in (1e-8, 1e-6):
        assert meanfield.preserving_gain("softsign", q) - 1.0 == pytest.approx(2 * np.sqrt(2 / np.pi) * np.sqrt(q),
                                                                                 rel=1e-2)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    for q in (0.25, 1.0, 4.0):
        mc = np.sqrt(q / np.mean(activations.softsign(np.sqrt(q) * z) ** 2))
        assert meanfield.preserving_gain("softsign", q) == pytest.approx(mc, rel=2e-3)
    gains = meanfield.preserving_gain("softsign", np.array([0.1, 1.0, 10.0]))
    assert np.all(np.diff(gains) > 0)
    # it saturates harder than tanh at the same q: a larger gain keeps its variance
    assert meanfield.preserving_gain("softsign", 1.0) > meanfield.preserving_gain("tanh", 1.0)
    # with that gain, q = 1 is a fixed point of the length map
    g2 = float(meanfield.preserving_gain("softsign", 1.0)) ** 2
    assert meanfield.length_map(1.0, "softsign", g2) == pytest.approx(1.0, rel=1e-10)


def test_softsign_saturation_mask():
    a = activations.softsign(np.array([0.0, 50.0, -150.0]))
    assert activations.saturated("softsign", a).tolist() == [False, False, True]
