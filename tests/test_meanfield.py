"""npnet.meanfield: quadrature against Monte Carlo and closed forms, the critical line, the correlation depth."""
import numpy as np
import pytest

from npnet import meanfield


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "identity"])
@pytest.mark.parametrize("q", [0.05, 1.0, 6.0])
def test_length_map_matches_monte_carlo(name, q):
    z = np.random.default_rng(0).standard_normal(1_000_000)
    mc = 1.3 * np.mean(meanfield.phi(name)(np.sqrt(q) * z) ** 2) + 0.05
    assert meanfield.length_map(q, name, 1.3, 0.05) == pytest.approx(mc, rel=0.01)


def test_relu_closed_forms():
    # E[relu(√q z)²] = q/2 and E[relu'(√q z)²] = 1/2: the even rule puts no node on the kink.
    assert meanfield.length_map(3.0, "relu", 1.0) == pytest.approx(1.5, rel=1e-12)
    assert meanfield.chi1("relu", 2.0, 0.7) == pytest.approx(1.0, rel=1e-12)
    # Below the critical line the fixed point is σ_b² / (1 − σ_w²/2); at or above it, q grows without bound.
    assert meanfield.fixed_point("relu", 1.5, 0.05) == pytest.approx(0.05 / (1 - 0.75), rel=1e-9)
    assert meanfield.fixed_point("relu", 2.5, 0.05) == np.inf
    assert meanfield.critical_sigma_w2("relu", 0.05) == 2.0


def test_tanh_critical_line_at_sigma_b2_005():
    s = meanfield.critical_sigma_w2("tanh", 0.05)
    assert s == pytest.approx(1.76, rel=0.01)
    q = meanfield.fixed_point("tanh", s, 0.05)
    assert meanfield.chi1("tanh", s, q) == pytest.approx(1.0, abs=1e-8)
    # Ordered below (c* = 1, χ_c = χ₁ < 1), chaotic above (c* < 1).
    chi, c_star = meanfield.chi_c("tanh", 1.2, 0.05)
    assert c_star == pytest.approx(1.0, abs=1e-6) and chi < 1
    _, c_star = meanfield.chi_c("tanh", 3.0, 0.05)
    assert c_star < 0.9


def test_correlation_depth_peaks_at_the_critical_line():
    s = meanfield.critical_sigma_w2("tanh", 0.05)
    depths = [meanfield.correlation_depth("tanh", w, 0.05) for w in (1.0, 0.95 * s, 1.05 * s, 3.0)]
    assert depths[1] > 3 * depths[0] and depths[2] > 3 * depths[3]


def test_q_sequence_starts_from_layer_one_and_runs_the_map():
    qs = meanfield.q_sequence(0.8, "tanh", 1.0, 0.0, depth=4)
    assert qs[0] == 0.8 and len(qs) == 4
    assert qs[2] == pytest.approx(meanfield.length_map(qs[1], "tanh", 1.0))
    with pytest.raises(ValueError, match="activation"):
        meanfield.phi("swish")
