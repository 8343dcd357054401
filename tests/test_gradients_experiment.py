"""npnet.gradcheck's richer checker (kinks, tolerances, float32, complex step) and experiments.gradients.

The experiment and these tests use the same code: ``npnet.gradcheck`` and the experiment's own helpers
(``near_kink_net``, ``KinkBugReLU``, ``relu_all_zero``).
"""
import json
import warnings

import numpy as np
import pytest

import npnet
from conftest import assert_cli_usage_error, assert_usage_error

from experiments import gradients
from npnet import activations, gradcheck, losses

KINK_KINDS = {gradcheck.RESOLVED, gradcheck.AT_KINK}


def backprop(net, X, y, loss="softmax_cross_entropy"):
    return gradients.backprop(net, X, y, loss)


# ---------------------------------------------------------------- ReLU kinks: the subgradient check
def test_near_kink_data_really_sits_at_and_near_the_kink():
    net, X, y = gradients.near_kink_net(0)
    z1, z2 = net.preactivations[:2]
    assert np.count_nonzero(z1 == 0) >= 2                       # exactly on the kink
    near = [(np.abs(z) < 1e-3) & (z != 0) for z in (z1, z2)]    # within h = 1e-3 of it
    assert all(np.count_nonzero(m) >= 3 for m in near)


@pytest.mark.parametrize("order", [4, 2])
@pytest.mark.parametrize("relu0", [0.0, 1.0])
def test_subgradient_check_passes_a_correct_relu_net_at_the_kink(relu0, order):
    net, X, y = gradients.near_kink_net(0, relu_grad_at_zero=relu0)
    report = gradcheck.check(net, X, y, order=order, h=1e-3)        # the data sit within h = 1e-3 of the kink
    assert report.passed, str(report)
    assert report.total("n_kink") > 20
    assert report.total("n_at_kink") > 0 and report.total("n_resolved") > 0   # both paths exercised
    # the naive comparison "fails" the same correct net: that is what the kink handling is for
    assert not gradcheck.check(net, X, y, order=order, h=1e-3, kinks="ignore").passed


def wrong_relu_grad(z, at_zero=0.0, out=None):
    """relu' with the sign flipped within 1e-3 of the kink: a bug only kink coordinates can see."""
    g = (z > 0).astype(z.dtype)
    return np.where(np.abs(z) < 1e-3, -g, g)


@pytest.mark.parametrize("order", [4, 2])
@pytest.mark.parametrize("bug", ["relu'(0)=2", "Activation subclass", "monkeypatched relu_grad"])
def test_subgradient_check_fails_a_wrong_relu_backward(bug, order, monkeypatch):
    if bug == "relu'(0)=2":
        net, X, y = gradients.near_kink_net(0, relu_grad_at_zero=2.0)
    elif bug == "Activation subclass":
        net, X, y = gradients.near_kink_net(0, layer_factory=lambda: gradients.KinkBugReLU(1e-3))
    else:
        monkeypatch.setitem(activations.DERIVATIVES, "relu", (wrong_relu_grad, "z"))
        net, X, y = gradients.near_kink_net(0)
    report = gradcheck.check(net, X, y, order=order, h=1e-3)
    assert not report.passed
    assert report.total("n_kink_failures") > 0
    failing = [w for p in report.values() for w in p.worst if w["ratio"] > 1]
    assert failing and {w["kind"] for w in failing} <= KINK_KINDS | {gradcheck.SMOOTH}


def test_skipping_kinks_hides_a_bug_that_the_subgradient_check_finds():
    net, X, y = gradients.near_kink_net(0, relu_grad_at_zero=2.0)   # wrong only where z == 0 exactly
    skipped = gradcheck.check(net, X, y, kinks="skip")
    assert skipped.passed and skipped.total("n_skipped") > 0
    full = gradcheck.check(net, X, y)
    assert not full.passed
    assert {w["kind"] for p in full.values() for w in p.worst if w["ratio"] > 1} == {gradcheck.AT_KINK}
    assert skipped.total("n_skipped") == skipped.total("n_kink")   # "skip" leaves out every kink coordinate


def test_worst_coordinates_are_reported_per_parameter():
    net, X, y = gradients.near_kink_net(0, layer_factory=lambda: gradients.KinkBugReLU(1e-3))
    report = gradcheck.check(net, X, y, n_worst=4)
    for name, p in report.items():
        assert p.name == name and 0 < len(p.worst) <= 4
        ratios = [w["ratio"] for w in p.worst]
        assert ratios == sorted(ratios, reverse=True)
        for w in p.worst:
            assert len(w["index"]) == len(p.shape) and all(0 <= i < n for i, n in zip(w["index"], p.shape))
            assert {"kind", "analytic", "numeric", "abs_error", "allowed", "ratio", "step"} <= w.keys()
    bad = next(p for p in report.values() if not p.passed)
    w = bad.worst[0]
    assert w["ratio"] > 1
    g = {q.name: q.grad for q in net.parameters()}[bad.name]
    assert g[tuple(w["index"])] == w["analytic"]          # the report names the real coordinate
    text = str(report)
    assert "FAILED" in text and str(tuple(w["index"])) in text
    json.dumps(report.to_dict(), allow_nan=False)           # JSON-ready


# ---------------------------------------------------------------- tolerances
def test_atol_rtol_accepts_near_zero_gradients_that_relative_error_flags():
    r = gradcheck.compare(np.array([2e-17, 0.5]), np.array([3e-11, 0.5 + 1e-9]))
    assert r["max_rel_error"] > 0.99          # CS231n's relative error calls this a total failure
    assert r["passed"]                        # but both are ≈ 0: within atol
    assert not gradcheck.compare(np.array([1e-3]), np.array([2e-3]))["passed"]   # a real error is not hidden
    assert not gradcheck.compare(np.array([1.0]), np.array([1.001]))["passed"]


def test_check_passes_a_net_whose_gradients_vanish():
    """Deep sigmoid, std 0.01: first-layer gradients ~1e-14, so relative error is round-off noise; atol copes."""
    rng = np.random.default_rng(0)
    net = npnet.mlp([4] + [6] * 6 + [3], "sigmoid", ("normal", {"std": 0.01}), rng=rng)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    report = gradcheck.check(net, X, y)
    assert np.max(np.abs(net.dense[0].dW)) < 1e-9
    assert report["fc1.W"].max_rel_error > 1e-4
    assert report.passed


# ---------------------------------------------------------------- float32
def test_float32_net_is_checked_on_a_float64_copy_with_a_warning():
    net, X, y = gradients.near_kink_net(0, dtype=np.float32)
    before = net.get_weights()
    grads_before = {p.name: p.grad.copy() for p in net.parameters()}
    with pytest.warns(gradcheck.PrecisionWarning, match="float64 copy"):
        report = gradcheck.check(net, X, y)
    assert report.dtype == "float64" and report.net_dtype == "float32"
    assert report.passed and report.total("n_kink") > 0
    assert net.dtype == np.float32 and all(layer.W.dtype == np.float32 for layer in net.dense)
    for p in net.parameters():
        assert np.array_equal(p.value, before[p.name]) and np.array_equal(p.grad, grads_before[p.name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        native = gradcheck.check(net, X, y, precision="native", kinks="skip")
    assert native.dtype == "float32"
    assert all(np.array_equal(p.value, before[p.name]) for p in net.parameters())


def test_float64_copy_keeps_layer_classes_and_values():
    net, _, _ = gradients.near_kink_net(1, dtype=np.float32, layer_factory=lambda: gradients.KinkBugReLU(1e-3))
    twin = gradcheck.float64_copy(net)
    assert twin.dtype == np.float64 and all(layer.W.dtype == np.float64 for layer in twin.dense)
    assert [type(layer) for layer in twin.layers] == [type(layer) for layer in net.layers]
    for a, b in zip(net.parameters(), twin.parameters()):
        assert np.array_equal(a.value.astype(np.float64), b.value) and a.value is not b.value


def test_native_check_restores_parameters_even_when_the_loss_raises():
    rng = np.random.default_rng(3)
    net = npnet.mlp([3, 4, 2], "tanh", "xavier", rng=rng)
    X, y = rng.normal(size=(4, 3)), rng.integers(0, 2, 4)
    before = net.get_weights()

    class Flaky(losses.SoftmaxCrossEntropy):
        calls = 0

        def forward(self, Z, y):
            Flaky.calls += 1
            if Flaky.calls == 7:
                raise RuntimeError("boom")
            return super().forward(Z, y)

    with pytest.raises(RuntimeError, match="boom"):
        gradcheck.check(net, X, y, Flaky(), precision="native")
    assert all(np.array_equal(v, before[k]) for k, v in net.get_weights().items())


def test_bad_check_arguments_name_the_argument():
    net, X, y = gradients.near_kink_net(0)
    with pytest.raises(ValueError, match="kinks"):
        gradcheck.check(net, X, y, kinks="drop")
    with pytest.raises(ValueError, match="precision"):
        gradcheck.check(net, X, y, precision="float16")
    with pytest.raises(ValueError, match="order"):
        gradcheck.check(net, X, y, order=3)
    with pytest.raises(ValueError, match="h"):
        gradcheck.check(net, X, y, h=0.0)


# ---------------------------------------------------------------- fixed return types
def test_each_function_has_one_return_type():
    rng = np.random.default_rng(1)
    for dtype in (np.float64, np.float32):
        net = npnet.mlp([4, 5, 3], "relu", "he_normal", rng=np.random.default_rng(2), dtype=dtype)
        X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
        errors = gradcheck.check(net, X, y, precision="native", kinks="skip").rel_errors
        assert set(errors) == {p.name for p in net.parameters()} and all(type(v) is float for v in errors.values())
        assert max(errors.values()) < (1e-7 if dtype == np.float64 else 0.5)
    layer = npnet.Dense(3, 2, rng=rng)
    result = gradcheck.check_layer(layer, rng.normal(size=(4, 3)), rng.normal(size=(4, 2)))
    assert set(result) == {"X", "W", "b"} and all(r["passed"] and r["max_rel_error"] < 1e-7 for r in result.values())
    result = gradcheck.check_loss("mse", rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    assert result["passed"] and {"max_rel_error", "max_abs_error", "max_ratio"} <= result.keys()
    x = rng.normal(size=3)
    assert np.allclose(gradcheck.numerical_gradient(lambda: np.sum(x ** 3), x), 3 * x ** 2, rtol=1e-9)
    assert gradcheck.partial_derivative(lambda: np.sum(x ** 2), x, (0,), 1e-3, order=2) == pytest.approx(2 * x[0])


# ---------------------------------------------------------------- complex step
@pytest.mark.parametrize("act, std, loss", [("tanh", None, "softmax_cross_entropy"), ("sigmoid", None, "mse"),
                                            ("sigmoid", 30.0, "softmax_cross_entropy")])
def test_complex_step_agrees_with_backprop_to_1e13(act, std, loss):
    rng = np.random.default_rng(4)
    init = "xavier" if std is None else ("normal", {"std": std})    # std 30: saturated sigmoids, |z| in the 100s
    net = npnet.mlp([5, 7, 6, 3], act, init, rng=rng)
    X = rng.normal(size=(6, 5))
    y = rng.integers(0, 3, 6) if loss != "mse" else rng.normal(size=(6, 3))
    exact = gradcheck.complex_step_gradient(net, X, y, loss)
    grads = backprop(net, X, y, loss)
    for name, g in grads.items():
        assert np.all(np.isfinite(exact[name]))
        assert np.max(np.abs(exact[name] - g)) <= 1e-13 * max(1.0, np.max(np.abs(g))), name
    # h does not matter once it is small: no cancellation
    cs = gradcheck.ComplexStep(net, X, y, loss)
    assert cs.partial("fc1.W", (0, 0), 1e-8) == pytest.approx(cs.partial("fc1.W", (0, 0), 1e-200), rel=1e-13)


def test_complex_step_refuses_relu():
    net = npnet.mlp([3, 4, 2], "relu", "he_normal", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="analytic"):
        gradcheck.ComplexStep(net, np.zeros((2, 3)), np.array([0, 1]))


# ---------------------------------------------------------------- ReLU all-zero net
def test_relu_all_zero_net_only_the_output_bias_gets_gradient():
    result = gradients.relu_all_zero(seed=0)
    assert result["l1_all"] == result["l1_output_bias"] > 0
    assert result["zero_gradients"] == ["fc1.W", "fc1.b", "fc2.W"]
    assert result["nonzero_gradients"] == ["fc2.b"]
    assert result["gradcheck_passed"]


# ---------------------------------------------------------------- the experiment
def test_quick_run_writes_figures_and_json(quick_run):
    out, result = quick_run("gradients")
    for name in ("gradcheck_step_size.png", "activation_derivatives.png", "gradient_norms.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))
    assert {"check_table", "float32", "step_size", "relu_kink", "activation_derivatives", "gradient_norms",
            "relu_all_zero"} <= result.keys()


def test_quick_run_numbers(quick_run):
    _, result = quick_run("gradients")
    table = result["check_table"]
    assert {r["kind"] for r in table} == {"layer", "activation", "loss", "net"}
    assert all(r["float64"]["passed"] and r["float64"]["max_rel_error"] < 1e-7 for r in table)
    assert all(r["float32"]["passed"] for r in table)
    assert max(r["float32"]["max_rel_error"] for r in table) > 1e-5          # float32 cannot get near 1e-7
    assert result["float32"]["precision_warnings"] > 0
    curves = result["step_size"]["curves"]
    assert curves["forward_float64"]["truncation_slope"] == pytest.approx(1, abs=0.15)
    assert curves["central_float64"]["truncation_slope"] == pytest.approx(2, abs=0.15)
    assert curves["central_float64"]["roundoff_slope"] == pytest.approx(-1, abs=0.15)
    assert curves["complex_float64"]["best_error"] < 1e-14
    assert curves["forward_float64"]["best_error"] > curves["central_float64"]["best_error"]
    rows = {(r["variant"], r["mode"]): r for r in result["relu_kink"]["rows"]}
    assert all(r["verdict_right"] for (_, mode), r in rows.items() if mode == "subgradient")
    assert not rows[("relu'(0)=0 (PyTorch)", "ignore")]["passed"]          # naive: a correct net "fails"
    assert rows[("relu'(0)=2 (wrong)", "skip")]["passed"]                   # skipping: a wrong net passes
    assert result["relu_kink"]["float32_net"]["passed"] and result["relu_kink"]["float32_net"]["net_unchanged"]
    assert result["activation_derivatives"]["sigmoid"]["max_derivative"] == pytest.approx(0.25)
    assert result["activation_derivatives"]["tanh"]["max_derivative"] == pytest.approx(1.0)
    norms = {(r["activation"], r["init"]): r for r in result["gradient_norms"]["results"]}
    assert norms[("sigmoid", "Xavier")]["verdict"].startswith("vanishing")
    assert norms[("relu", "He")]["verdict"].startswith("flat")
    assert all(r["max_log10_measured_over_predicted"] < 0.5 for r in norms.values())   # within 3× everywhere


@pytest.mark.parametrize("argv", [["--bogus"], ["--seed", "x"], ["--dtype", "float16"], ["--out", "FILE"]])
def test_bad_arguments_exit_2_with_one_line(tmp_path, argv, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    argv = [str(blocker) if a == "FILE" else a for a in argv]
    assert_usage_error("gradients", ["--quick", "--out", str(tmp_path / "out"), *argv], tmp_path / "out", capsys)


def test_command_line_bad_argument_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "out"
    assert_cli_usage_error("gradients", ["--quick", "--out", str(out), "--dtype", "float16"], out)
