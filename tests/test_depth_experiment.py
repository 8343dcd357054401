"""experiments.depth: the mean-field quadrature against Monte Carlo, the studies' claims on one quick run, its CLI."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import depth as exp
from experiments.depth import cs231n_notes, forward, matrix_product, relu_spread
from npnet import meanfield

FIGURES = ("sigmoid_activation_histograms.png", "relu_spread_hist_xavier_identity.png",
           "relu_spread_hist_xavier_relu.png", "relu_spread_hist_he_relu.png", "relu_spread_check_ex2.png", "relu_spread_check_relu_ratio.png",
           "relu_zero_fraction.png", "cs231n_layer_stats.png", "matrix_product.png", "measured_gains.png")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One --quick run of every study, shared by the tests below."""
    out = tmp_path_factory.mktemp("depth")
    assert exp.main(["--quick", "--data", "bundled", "--jobs", "1", "--out", str(out)]) is None
    return out, json.loads((out / "depth.json").read_text())["studies"]


@pytest.mark.parametrize("name", ["tanh", "relu"])
@pytest.mark.parametrize("q", [0.05, 1.0, 8.0, 500.0])
def test_quadrature_matches_monte_carlo(name, q):
    z = np.random.default_rng(0).standard_normal(1_000_000)
    f = forward.ACT[name]
    mc = np.mean(f(math.sqrt(q) * z) ** 2)
    assert meanfield.expect(lambda u: f(u) ** 2, q) == pytest.approx(mc, rel=0.02)
    if q <= 1:      # plain Gauss–Hermite agrees there; at q = 500 it misses tanh's turn (0.9991 for 0.964)
        z_h, w_h = meanfield._rule()
        hermite = np.sum(w_h * f(math.sqrt(q) * z_h) ** 2)
        assert meanfield.expect(lambda u: f(u) ** 2, q) == pytest.approx(hermite, rel=1e-9)


@pytest.mark.parametrize("name, sigma_w2, rtol", [("tanh", 1.5, 0.02), ("tanh", 400.0, 0.02), ("relu", 2.0, 0.06)])
def test_length_map_matches_wide_random_nets(name, sigma_w2, rtol):
    # E[z²] per layer, mean over 3 nets of width 1000, against the quadrature's length map. A ReLU net's E[z²] is
    # right in expectation but wanders from net to net (≈ √(5·layer/width) for one input): hence its 6 %
    width, depth = 1000, 4
    rng = np.random.default_rng(1)
    measured = []
    for _ in range(3):
        weights = [rng.standard_normal((width, width)) for _ in range(depth)]
        rows, _ = forward.forward(rng.standard_normal((40, width)), weights, [math.sqrt(sigma_w2 / width)] * depth,
                              forward.ACT[name])
        measured.append([r["Ez2"] for r in rows])
    theory = meanfield.q_profile(sigma_w2, name, [sigma_w2] * (depth - 1))
    np.testing.assert_allclose(np.mean(measured, axis=0), theory, rtol=rtol)


def test_quick_run_writes_every_figure(quick):
    out, studies = quick
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert set(studies) == set(exp.STUDIES)
    assert not list(out.glob(".*.tmp"))


def test_he_keeps_relu_energy_while_xavier_loses_it(quick):
    runs = quick[1]["relu-spread"]["runs"]
    for inp in relu_spread.RS_INPUTS:
        he = runs[f"{inp}/C) He + ReLU"]["Ea2_last_over_first"]
        xavier = runs[f"{inp}/B) Xavier + ReLU"]["Ea2_last_over_first"]
        assert 0.5 < he < 2.0, (inp, he)
        assert xavier < 1e-2, (inp, xavier)           # 20 layers: (1/2)^19 ≈ 2e-6 in theory
        identity = runs[f"{inp}/A) Xavier + Identity"]["Ea2_last_over_first"]
        assert 0.5 < identity < 2.0


def test_relu_keeps_half_of_E_z2_on_centred_input_not_of_var(quick):
    runs = quick[1]["relu-spread"]["runs"]
    for case in ("B) Xavier + ReLU", "C) He + ReLU"):
        run = runs[f"gaussian/{case}"]
        # layer 1 sees the centred Gaussian input: 1/2 to ~1e-3. Deeper layers see ReLU outputs (mean > 0), so each
        # unit's z has its own offset w·E[a] and a layer's ratio is decided by its 512 units: ±0.05 around 1/2
        assert abs(run["seed0"][0]["ratio_Ea2_Ez2"] - 0.5) < 0.05
        assert abs(np.mean(run["mean_over_seeds"]["ratio_Ea2_Ez2"]) - 0.5) < 0.02
        assert abs(run["seed0"][0]["ratio_Var"] - (0.5 - 0.5 / math.pi)) < 0.05     # Var keeps ≈ 0.34, not 1/2
        assert abs(run["seed0"][0]["frac_zero"] - 0.5) < 0.05


def test_measured_gains(quick):
    acts = quick[1]["gains"]["activations"]
    assert acts["relu"]["measured"]["1.0"] == pytest.approx(math.sqrt(2), rel=0.02)
    assert acts["leaky_relu"]["measured"]["1.0"] == pytest.approx(math.sqrt(2 / 1.0001), rel=0.02)
    assert acts["identity"]["measured"]["1.0"] == pytest.approx(1.0, rel=0.02)
    assert acts["tanh"]["measured"]["1.0"] == pytest.approx(meanfield.preserving_gain("tanh", 1.0), rel=0.03)
    assert {n for n, r in acts.items() if r["variance_preserving"]} == {"identity", "relu", "leaky_relu"}


def test_init_bench_claims_and_the_hidden_loss_of_the_input(quick):
    res = quick[1]["init-bench"]
    assert all(v for k, v in res["verdict"].items() if k != "note"), res["verdict"]
    assert res["inits"]["xavier(1/sqrt(n))"]["mean_over_seeds"]["input_share_a"][0] > 0.3


def test_published_he_table_is_sqrt_2_over_n_not_its_snippet():
    pub = cs231n_notes.CS_PUBLISHED["He (as published)·ReLU"]["std"][0]
    for gain2, fits in ((2.0, True), (1.0, False)):            # σ_w² = 500·Var(w): He 2, the snippet's /√fan_in 1
        theory = forward.theory_rows(np.array([gain2]), "relu")["std_a"][0]
        assert (abs(pub / theory - 1) < 0.01) is fits


def test_matrix_product_grows_at_the_lyapunov_exponent(quick):
    assert matrix_product.lyapunov_top(1) == pytest.approx(-(np.euler_gamma + math.log(2)) / 2)    # E ln|N(0, 1)|
    mp = quick[1]["cs231n-notes"]["matrix_product"]
    assert mp["measured_slope"] == pytest.approx(mp["lyapunov_top"], rel=0.03)
    assert mp["lyapunov_scaled_1_over_sqrt_n"] < 0


def test_one_study_keeps_the_others_in_the_json(tmp_path):
    path = tmp_path / "depth.json"
    path.write_text(json.dumps({"experiment": "depth", "studies": {"gains": 1, "init-bench": 2}}))
    assert exp.merged(path, {"gains": 3}) == {"experiment": "depth", "studies": {"gains": 3, "init-bench": 2}}
    path.write_text("not json")
    assert exp.merged(path, {"gains": 3}) == {"experiment": "depth", "studies": {"gains": 3}}


def test_bad_study_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.depth", "--out", str(tmp_path), "--study", "bogus"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "invalid choice" in proc.stderr
    assert not list(tmp_path.iterdir())
