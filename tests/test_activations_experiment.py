"""experiments.activations: the variance argument's pieces on their own, a quick run end to end, its command line."""
import math

import numpy as np
import pytest

import npnet
from conftest import assert_cli_usage_error, assert_usage_error

from experiments import activations as exp
from experiments.activations import assumptions
from experiments.activations import layers as act_layers
from npnet import data as npdata


@pytest.fixture(scope="module")
def probe():
    return npdata.load_mnist(300, 200, seed=0, source="bundled", verbose=False).X_test


def test_prediction_is_exact_when_the_inputs_are_orthogonal():
    # one-hot inputs: every cross term x_j x_k (j ≠ k) is 0, so E[u²] = n·E[w²]·E[x²] holds exactly for any W
    n, m = 40, 30
    layer = npnet.Dense(n, m, weight_init=("normal", {"std": 0.3}), rng=np.random.default_rng(1))
    X = np.eye(n)
    moments = act_layers.layer_moments(layer, X, layer.forward(X))
    assert moments["ratio"] == pytest.approx(1.0, rel=1e-12)
    assert moments["E_x2"] == pytest.approx(1 / n)


def test_prediction_ignores_the_bias_but_var_x_differs_from_E_x2():
    rng = np.random.default_rng(2)
    layer = npnet.Dense(50, 400, weight_init="he_normal", bias_init=("constant", {"value": 3.0}), rng=rng)
    X = rng.uniform(0.0, 1.0, size=(200, 50))            # mean 1/2: E[x²] = 1/3 but Var(x) = 1/12
    moments = act_layers.layer_moments(layer, X, layer.forward(X))
    assert moments["E_u2"] < 9.0                          # u = z − b: the bias of 3 is not in it
    assert moments["ratio"] == pytest.approx(1.0, abs=0.2)
    assert moments["ratio_with_var_x"] == pytest.approx(4.0 * moments["ratio"], rel=0.05)


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0, 2.5])
def test_relu_factor_formula_matches_monte_carlo(beta):
    z = np.random.default_rng(3).normal(beta, 1.0, size=2_000_000)
    assert assumptions.relu_factor_gaussian(beta) == pytest.approx(np.mean(np.maximum(z, 0) ** 2) / np.mean(z * z),
                                                           abs=2e-3)
    assert assumptions.relu_factor_gaussian(0.0) == 0.5


def test_relu_nets_of_one_seed_differ_only_by_scale(probe):
    # ReLU is positively homogeneous and every init here draws the same normals times one scale per layer
    rows = {label: act_layers.net_layers(npnet.mlp([784, 64, 64, 64, 10], "relu", spec, rng=np.random.default_rng(5)),
                                  probe)
            for label, spec in exp.INITS.items()}
    ref = rows["He"]
    for label, layers in rows.items():
        for r, r_ref in zip(layers, ref):
            assert r["frac_zero"] == r_ref["frac_zero"]
            assert r["ratio"] == pytest.approx(r_ref["ratio"], rel=1e-9)
            assert r["g"] == pytest.approx(r_ref["g"], rel=1e-9)


def test_depth_verdicts(probe):
    found = {(r["activation"], r["init"]): r["verdict"].split(" ")[0].rstrip(":")
             for r in exp.depth_study(probe, 64, 0, np.float64, lambda _: None)}
    assert found[("tanh", "N(0, 0.01²)")] == "vanishing"
    assert found[("tanh", "N(0, 1)")] == "saturated"
    assert found[("relu", "N(0, 0.01²)")] == "vanishing"
    assert found[("relu", "N(0, 1)")] == "exploding"
    assert found[("relu", "Xavier")] == "shrinking"       # variance halves per layer: (1/2)^(9/2) ≈ 0.04
    assert found[("relu", "He")] == "steady"
    assert found[("tanh", "Xavier")] == "steady"


def test_sigmoid_keeps_the_size_of_z_but_loses_the_input(probe):
    res = {(r["activation"], r["init"]): r for r in exp.depth_study(probe, 64, 0, np.float64, lambda _: None)}
    xavier = res[("sigmoid", "Xavier")]
    assert xavier["verdict"].startswith("steady") and "input is lost" in xavier["verdict"]
    first, last = xavier["layers"][0]["signal_share"], xavier["layers"][-1]["signal_share"]
    assert 0.3 < first < 1 and last < 1e-6 * first      # σ' ≤ 1/4: the varying part shrinks ~16× per layer
    tanh = res[("tanh", "Xavier")]
    assert tanh["layers"][-1]["signal_share"] > 0.3 and "lost" not in tanh["verdict"]


def confirmed_inputs():
    """Synthetic inputs to ``checks_of`` for which every claim holds; each test below breaks one of them."""
    layer = {"ratio": 1.0, "ratio_with_var_x": 1.0}
    depth = [{"activation": act, "init": "He",
              "layers": [dict(layer, ratio_with_var_x=1.0 if act == "tanh" else 1.5) for _ in range(3)]}
             for act in exp.ACTS]
    training = {"per_epoch": [{"layers": [{"ratio": 1.0}] * 3}, {"layers": [{"ratio": 2.0}] * 3}]}
    bias = {"rows": [{"bias_over_sd_u": b, "g": assumptions.relu_factor_gaussian(b), "g_gaussian": assumptions.relu_factor_gaussian(b)}
                     for b in assumptions.BIAS_SHIFTS]}
    width = {"slope_log_sd_vs_log_width": -0.5,
             "rows": [{"width": w, "mean_ratio": 1.0, "se_mean_ratio": 0.01, "mean_g": 0.5, "se_mean_g": 0.01,
                       "sd_log_ratio": 0.8 / math.sqrt(w)} for w in (16, 64, 256)]}
    return depth, training, bias, width


def test_checks_confirm_the_synthetic_case():
    assert all(c["confirmed"] for c in exp.checks_of(*confirmed_inputs()).values())


@pytest.mark.parametrize("breaks, check", [
    (lambda d, t, b, w: w["rows"][1].update(mean_ratio=1.05), "variance_argument"),     # 5 SE off
    (lambda d, t, b, w: w["rows"][2].update(mean_g=0.45), "relu_keeps_half"),
    (lambda d, t, b, w: [r.update(ratio_with_var_x=1.05) for r in d[1]["layers"]], "E_x2_not_Var_x"),   # relu
    (lambda d, t, b, w: t["per_epoch"][-1].update(layers=[{"ratio": 1.3}] * 3), "training_breaks_independence"),
    (lambda d, t, b, w: b["rows"][2].update(g=b["rows"][2]["g_gaussian"] + 0.05), "bias_moves_relu_factor"),
    (lambda d, t, b, w: w.update(slope_log_sd_vs_log_width=-1.0), "finite_width_scatter"),
    (lambda d, t, b, w: w.update(slope_log_sd_vs_log_width=0.0), "finite_width_scatter"),
])
def test_each_check_can_fail(breaks, check):
    inputs = confirmed_inputs()
    breaks(*inputs)
    verdicts = {name: c["confirmed"] for name, c in exp.checks_of(*inputs).items()}
    assert verdicts.pop(check) is False
    assert all(verdicts.values())           # and only that one


def test_relu_he_keeps_half_and_the_prediction_in_expectation(probe):
    study = exp.width_study(probe, (64, 256), n_seeds=6, depth=4, seed=0, dtype=np.float64)
    for row in study["rows"]:
        assert abs(row["mean_ratio"] - 1) <= 4 * row["se_mean_ratio"]
        assert abs(row["mean_g"] - 0.5) <= 4 * row["se_mean_g"]
    assert study["rows"][1]["sd_log_ratio"] < study["rows"][0]["sd_log_ratio"]   # wider → less scatter


def test_quick_run_writes_figures_and_json(quick_run):
    out, result = quick_run("activations", "--data", "bundled")
    assert not (out.parent / "activations.json").exists()     # --quick without --out writes figures/quick/ only
    for name in ("activation_depth.png", "activation_histograms.png", "variance_argument.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["data"]["dataset"] == "mnist" and result["data"]["source"]
    assert len(result["depth"]) == len(exp.ACTS) * len(exp.INITS)
    assert all(len(r["layers"]) == exp.DEPTH for r in result["depth"])
    epochs = result["training"]["per_epoch"]
    assert epochs[-1]["test_acc"] > epochs[0]["test_acc"] + 0.2          # the trained net did learn
    assert all(check["confirmed"] for check in result["checks"].values()), result["checks"]
    assert all(math.isfinite(r["ratio"]) for res in result["depth"] for r in res["layers"])
    assert not list(out.glob(".*.tmp"))


@pytest.mark.slow   # a second whole quick run (≈ 15–60 s on a shared machine): `pytest -m slow`
def test_same_seed_same_json(tmp_path, quick_run):
    out, _ = quick_run("activations", "--data", "bundled")
    assert exp.main(["--quick", "--data", "bundled", "--out", str(tmp_path)]) is None
    assert (tmp_path / "activations.json").read_bytes() == (out / "activations.json").read_bytes()


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--dtype", "float16"], ["--seed", "-1"], ["--bogus"],
                                  ["--data", "/no/such/dir"]])
def test_bad_arguments_exit_2_with_one_line(tmp_path, argv, capsys):
    assert_usage_error("activations", ["--out", str(tmp_path), *argv], tmp_path, capsys)


def test_command_line_bad_argument_is_one_line_and_exit_2(tmp_path):
    assert_cli_usage_error("activations", ["--out", str(tmp_path), "--seed", "-1"], tmp_path)
