"""Mean-field theory of the phase diagram: q*, χ₁, χ_c, c* and the correlation depth ξ_c of one (activation, σ_w²)."""
import math

from npnet import meanfield

from .protocol import SIGMA_B2


def theory_point(name, sigma_w2, sigma_b2=SIGMA_B2):
    """q*, χ₁, χ_c, c*, ξ_c of one (activation, σ_w²); ReLU above σ_w² = 2 has no fixed point (q* = ∞)."""
    if name == "relu" and sigma_w2 >= 2.0:      # χ₁ = σ_w²/2 ≥ 1: the length grows without bound
        return {"sigma_w2": sigma_w2, "q_star": None, "chi1": sigma_w2 / 2, "chi_c": None, "c_star": None,
                "xi_c": math.inf if sigma_w2 == 2.0 else None}
    q = meanfield.fixed_point(name, sigma_w2, sigma_b2)
    chi_1 = meanfield.chi1(name, sigma_w2, q)
    chi, c_star = meanfield.chi_c(name, sigma_w2, sigma_b2, q)
    xi = math.inf if chi >= 1.0 else -1.0 / math.log(chi)
    return {"sigma_w2": sigma_w2, "q_star": q, "chi1": chi_1, "chi_c": chi, "c_star": c_star, "xi_c": xi}


def theory_curve(name, sigma_w2s, sigma_b2=SIGMA_B2):
    """:func:`theory_point` over σ_w² values, as lists (JSON-ready; ∞ becomes None)."""
    points = [theory_point(name, float(s), sigma_b2) for s in sigma_w2s]
    return {key: [finite(p[key]) for p in points] for key in points[0]}


def finite(x):
    return None if x is None or not math.isfinite(x) else float(x)
