"""ξ measured directly: pairs of correlated inputs through a random tanh net, and the depth over which they merge
(ordered phase) or their fluctuations relax (chaotic phase)."""
import math

import numpy as np

from npnet import meanfield

from .protocol import SIGMA_B2
from .theory import finite, theory_point


def pair_correlations(name, sigma_w2, sigma_b2, *, width, depth, n_pairs, c0, rng):
    """Correlations of ``n_pairs`` input pairs through one random net, layers l = 0 … depth.

    Layer 0 holds the pairs themselves: pre-activations of length q* per unit with correlation c₀. Layer l
    computes h_l = W_l φ(h_{l−1}) + b_l, W ~ N(0, σ_w²/width), b ~ N(0, σ_b²), one draw for both members of a
    pair. Returns (c, gap), both (depth+1, n_pairs): c_l = ĥ₁·ĥ₂ (ĥ = h/‖h‖) and gap_l = 1 − c_l computed as
    ½‖ĥ₁ − ĥ₂‖², which stays accurate when c → 1.
    """
    q = meanfield.fixed_point(name, sigma_w2, sigma_b2)
    f = meanfield.phi(name)
    z1 = rng.standard_normal((n_pairs, width))
    z2 = c0 * z1 + math.sqrt(1.0 - c0 * c0) * rng.standard_normal((n_pairs, width))
    h = math.sqrt(q) * np.vstack([z1, z2])                   # (2P, width): rows 0…P−1 first members

    def one_minus_c(h):
        u = h / np.linalg.norm(h, axis=1, keepdims=True)
        return 0.5 * ((u[:n_pairs] - u[n_pairs:]) ** 2).sum(axis=1)

    gaps = [one_minus_c(h)]
    for _ in range(depth):
        W = rng.normal(0.0, math.sqrt(sigma_w2 / width), (width, width))
        b = rng.normal(0.0, math.sqrt(sigma_b2), width)
        h = f(h) @ W.T + b
        gaps.append(one_minus_c(h))
    gaps = np.array(gaps)
    return 1.0 - gaps, gaps


def fit_correlation_depth(c, gap, linear=(0.05, 0.3), tail=0.25):
    """ξ from c_l → c_∞: the decay length of |c_l − c_∞| ≈ A·exp(−l/ξ), by a straight line through log|c_l − c_∞|.

    c, gap : (depth+1,) correlations and 1 − c per layer (``gap`` keeps 1 − c accurate near 1).
    If the gap still shrinks tenfold from the middle layer to the last, the pairs merge (ordered phase):
    c_∞ = 1 and |c_l − c_∞| = gap_l, whose noise shrinks with it. Otherwise (chaotic phase) c_∞ is the mean
    over the deepest ``tail`` share of layers, and the fit stops where |c_l − c_∞| meets 3× the tail's standard
    deviation, the finite-width noise floor. Only layers with |c_l − c_∞| ≤ ``linear`` (ordered, chaotic) are
    fitted, where the correlation map is linear (slope χ_c): on the noise-free mean-field map these windows bias
    ξ by < 1 % (ordered) and < 8 % (chaotic, σ_w² = 2 … 4). Returns (ξ, c_∞, fitted layers) or
    (None, c_∞, []) when fewer than 4 layers qualify.
    """
    n_tail = max(3, int(len(c) * tail))
    c_inf = float(c[-n_tail:].mean())
    if gap[-1] < 0.1 * gap[len(gap) // 2]:
        c_inf, dist, floor, window = 1.0, np.asarray(gap), 1e-13, linear[0]
    else:
        dist, floor, window = np.abs(c - c_inf), 3.0 * float(c[-n_tail:].std()), linear[1]
    layers = []
    for layer, d in enumerate(dist):
        if d <= floor:
            break
        if d <= window:
            layers.append(layer)
    if len(layers) < 4:
        return None, c_inf, []
    slope = np.polyfit(layers, np.log(dist[layers]), 1)[0]
    return (-1.0 / slope if slope < 0 else None), c_inf, layers


def relaxation_depth(c):
    """ξ from the fluctuations of c around its fixed point: c (layers, pairs), all layers past the approach.

    At finite width each layer adds fresh noise ε_l of size ~1/√width, and the linearised map pulls deviations
    back with slope χ_c: δ_{l+1} = χ_c δ_l + ε_{l+1}. So χ_c is the lag-1 regression coefficient of the
    deviations δ (each pair's c minus the mean over pairs at that layer, which removes the net-wide common
    shift), and ξ = −1/ln χ_c: the same rate as the approach, read where the approach is lost in the noise.
    """
    d = c - c.mean(axis=1, keepdims=True)
    chi = float((d[1:] * d[:-1]).sum() / (d[:-1] ** 2).sum())
    return -1.0 / math.log(chi) if 0.0 < chi < 1.0 else None


def xi_depth(sigma_w2, sigma_b2=SIGMA_B2):
    """Layers to propagate for a ξ measurement: ~10 predicted ξ, at most 300, and at least 40 on the ordered side
    and 120 on the chaotic side (whose fluctuations are read from the second half)."""
    xi = meanfield.correlation_depth("tanh", sigma_w2, sigma_b2)
    least = 40 if sigma_w2 < meanfield.critical_sigma_w2("tanh", sigma_b2) else 120
    return int(min(300, max(least, math.ceil(10 * xi))))


def measure_xi(task):
    """One σ_w²: c_l of pairs through a random tanh net, ξ measured, and the mean-field prediction.

    Ordered phase (the pairs merge): ξ is the decay length of 1 − c_l (:func:`fit_correlation_depth`). Chaotic
    phase: the approach to c* falls into the finite-width noise within 1–2 e-folds at width 1000, so ξ comes
    from the relaxation of the fluctuations around c* over the second half of the layers
    (:func:`relaxation_depth`); the approach fit is reported beside it when it has 4 layers to fit.
    """
    sigma_w2, sigma_b2, width, n_pairs, c0, seed = task
    depth = xi_depth(sigma_w2, sigma_b2)
    rng = np.random.default_rng([seed, 7, round(sigma_w2 * 1000)])
    c_pairs, gap_pairs = pair_correlations("tanh", sigma_w2, sigma_b2, width=width, depth=depth, n_pairs=n_pairs,
                                           c0=c0, rng=rng)
    c, gap = c_pairs.mean(axis=1), gap_pairs.mean(axis=1)
    xi_approach, c_inf, layers = fit_correlation_depth(c, gap)
    ordered = c_inf == 1.0
    xi_relax = None if ordered else relaxation_depth(c_pairs[depth // 2:])
    theory = theory_point("tanh", sigma_w2, sigma_b2)
    predicted = [c0]                                 # the mean-field correlation map from the same c₀
    for _ in range(depth):
        predicted.append(min(1.0, meanfield.correlation_map(predicted[-1], "tanh", sigma_w2, sigma_b2,
                                                            theory["q_star"])))
    return {"sigma_w2": sigma_w2, "phase": "ordered" if ordered else "chaotic",
            "xi_formula": finite(theory["xi_c"]), "xi_measured": xi_approach if ordered else xi_relax,
            "method": "approach fit" if ordered else "fluctuation relaxation",
            "xi_approach_fit": xi_approach, "fit_layers": [layers[0], layers[-1]] if layers else None,
            "xi_relaxation": xi_relax, "c_star_formula": theory["c_star"], "c_inf_measured": c_inf,
            "depth": depth, "c_measured": c.tolist(), "gap_measured": gap.tolist(),
            "c_mean_field": predicted}
