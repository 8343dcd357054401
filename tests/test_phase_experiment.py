"""experiments.phase: the theory it overlays, ξ measured on a wide net, the cell cache and resume, --quick outputs."""
import json
import math

import numpy as np
import pytest

from experiments import _cli as cli, _outputs as outputs, _parallel as parallel
from experiments import phase
from experiments.phase import grid as phase_grid
from npnet import meanfield

QUICK = ["--quick", "--jobs", "1"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run without the cache: the outputs every test below reads, and the resume test's reference."""
    out = tmp_path_factory.mktemp("phase")
    assert cli.run(phase.main, "experiments.phase", QUICK + ["--no-cache", "--out", str(out)]) == 0
    return out, json.loads((out / "phase.json").read_text())


def test_quick_writes_the_figures_and_json(quick_run):
    out, result = quick_run
    for name in ("phase_diagram.png", "phase_correlation_depth.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / ".phase-cache").exists()          # --no-cache writes none
    p = result["protocol"]
    n_cells = len(p["sigma_w2"]) * (len(p["depths"]) + len(p["relu_depths"]))
    assert len(result["cells"]) == n_cells
    assert result["data"]["source_kind"] in ("bundled", "cache", "openml", "idx")   # says which data it used
    assert all(0.0 <= c["test_acc"] <= 1.0 and c["steps_done"] == p["steps"] for c in result["cells"])
    assert result["published"]["trainable_depth_in_xi_c"] == 6


def test_critical_point_tanh_within_one_percent_of_176(quick_run):
    _, result = quick_run
    s_c = meanfield.critical_sigma_w2("tanh", phase.SIGMA_B2)
    assert abs(s_c - 1.76) <= 0.01 * 1.76
    assert result["theory"]["tanh"]["critical_sigma_w2"] == pytest.approx(s_c)
    below, above = phase.theory_point("tanh", s_c - 0.01), phase.theory_point("tanh", s_c + 0.01)
    assert below["chi1"] < 1.0 < above["chi1"]                     # ordered below, chaotic above
    assert below["c_star"] == 1.0 and above["c_star"] < 1.0
    assert below["xi_c"] > 100 and above["xi_c"] > 100              # ξ_c diverges at the line from both sides


def test_relu_critical_point_is_two():
    assert meanfield.critical_sigma_w2("relu", phase.SIGMA_B2) == 2.0
    for s in (1.0, 1.5, 1.9):     # χ₁ = σ_w²/2 by quadrature, whatever q* is, so χ₁ = 1 exactly at σ_w² = 2
        q = meanfield.fixed_point("relu", s, phase.SIGMA_B2)
        assert meanfield.chi1("relu", s, q) == pytest.approx(s / 2, rel=1e-9)
    assert phase.theory_point("relu", 2.5)["q_star"] is None       # no fixed point: the length explodes
    assert math.isinf(phase.theory_point("relu", 2.0)["xi_c"])


@pytest.mark.parametrize("sigma_w2", [1.0, 3.0])
def test_measured_xi_matches_the_formula_on_a_wide_net(sigma_w2):
    """Ordered (σ_w² = 1, ξ_c ≈ 3.6: the approach fit) and chaotic (σ_w² = 3, ξ_c ≈ 9.1, c* ≈ 0.30: the
    relaxation of the fluctuations) sides, on width-500 nets (5× the trained nets' width)."""
    [row] = parallel.parallel_map(phase.measure_xi, [(sigma_w2, phase.SIGMA_B2, 500, 64, phase.XI_C0, 0)], jobs=1)
    assert row["phase"] == ("ordered" if sigma_w2 < 1.76 else "chaotic")
    assert row["xi_measured"] == pytest.approx(row["xi_formula"], rel=0.15)
    assert row["c_inf_measured"] == pytest.approx(row["c_star_formula"], abs=0.05)   # c* shifts at finite width


def test_fit_recovers_a_known_decay_length():
    layers = np.arange(60)
    gap = 0.5 * np.exp(-layers / 4.0)                             # ordered: 1 − c decays to 0
    xi, c_inf, fitted = phase.fit_correlation_depth(1.0 - gap, gap)
    assert c_inf == 1.0 and xi == pytest.approx(4.0, rel=1e-6) and len(fitted) >= 4
    layers = np.arange(150)                                        # chaotic: c → c* = 0.3, plus finite-width noise
    c = 0.3 + 0.4 * np.exp(-layers / 7.0) + 0.002 * np.random.default_rng(0).standard_normal(150)
    xi, c_inf, _ = phase.fit_correlation_depth(c, 1.0 - c)
    assert c_inf == pytest.approx(0.3, abs=1e-3) and xi == pytest.approx(7.0, rel=0.1)


def test_relaxation_depth_reads_chi_from_fluctuations():
    """δ_{l+1} = χ δ_l + ε: the lag-1 coefficient gives back χ = e^{−1/ξ}."""
    rng, chi = np.random.default_rng(0), math.exp(-1 / 6.0)
    d = np.zeros((400, 64))
    for layer in range(1, 400):
        d[layer] = chi * d[layer - 1] + 0.01 * rng.standard_normal(64)
    assert phase.relaxation_depth(0.4 + d[50:]) == pytest.approx(6.0, rel=0.05)


def test_killed_run_resumes_from_its_cache_with_the_same_json(quick_run, tmp_path, monkeypatch):
    _, reference = quick_run
    real, calls = phase.train_cell, []

    def killed_after_three(task):
        if len(calls) == 3:
            raise KeyboardInterrupt                               # what Ctrl-C / a killed job leaves behind
        calls.append(task[0])
        return real(task)

    monkeypatch.setattr(phase_grid, "train_cell", killed_after_three)     # where run_cells finds it
    argv = QUICK + ["--out", str(tmp_path)]
    assert cli.run(phase.main, "experiments.phase", argv) == 130
    cache = tmp_path / ".phase-cache"
    assert len(list(cache.glob("*.json"))) == 3 and not (tmp_path / "phase.json").exists()
    (cache / ".stray.json.tmp").write_text("{half a fi")             # an interrupted atomic write: ignored
    victim = phase.cache_path(cache, calls[0])
    victim.write_text(victim.read_text()[:20])                     # a damaged entry: trained again

    calls.clear()
    monkeypatch.setattr(phase_grid, "train_cell", lambda task: calls.append(task[0]) or real(task))
    monkeypatch.setattr(phase, "figures", lambda result, out: None)     # checked by the --quick test
    assert cli.run(phase.main, "experiments.phase", argv) == 0
    assert len(calls) == len(reference["cells"]) - 2               # only the missing (and the damaged) cells
    assert json.loads((tmp_path / "phase.json").read_text()) == reference


def test_cache_key_covers_the_settings(tmp_path):
    a = phase.cell_settings("tanh", 1.5, 10, steps=30, n_train=1280, n_test=500, seed=0, dtype="float64",
                            data_source="x")
    b = dict(a, steps=31)
    assert phase.cache_path(tmp_path, a) != phase.cache_path(tmp_path, b)
    result = {"test_acc": 0.5, "train_acc": 0.5, "steps_done": 30, "final_loss": 1.0, "diverged": None}
    outputs.write_json(phase.cache_path(tmp_path, a), {"settings": a, "result": result})
    assert phase.read_cached(tmp_path, a) == result
    assert phase.read_cached(tmp_path, b) is None and phase.read_cached(None, a) is None


@pytest.mark.parametrize("argv", [["--sigma-w2", "abc"], ["--depths", "0,3"], ["--steps", "0"]])
def test_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    assert cli.run(phase.main, "experiments.phase", argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("experiments.phase: error:")
