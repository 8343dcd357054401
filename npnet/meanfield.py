"""Mean-field theory of signal propagation in wide random networks, by quadrature.

A layer computes z_l = W_l a_{l−1} + b_l with W ~ N(0, σ_w²/n), b ~ N(0, σ_b²) and a_l = φ(z_l). For wide
layers each unit's z is Gaussian over the draw of the weights, with second moment q_l = E[z_l²] obeying

    q_l = σ_w² · E_{z~N(0,1)}[φ(√q_{l−1} z)²] + σ_b²                      (length map)

(Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos"). Two inputs
with correlation c_{l−1} of their pre-activations (both of length q*) go to

    c_l = (σ_w² · E[φ(u₁) φ(u₂)] + σ_b²) / q*,   u₁ = √q* z₁,  u₂ = √q* (c z₁ + √(1−c²) z₂)   (correlation map)

whose slope at c = 1 is χ₁ = σ_w² · E[φ'(√q* z)²]. χ₁ < 1: ordered (inputs merge), χ₁ > 1: chaotic (they
decorrelate), χ₁ = 1: the critical line. Near the fixed point c*, |c_l − c*| ~ exp(−l/ξ_c) with the
correlation depth ξ_c = −1/ln χ_c, χ_c = σ_w² · E[φ'(u₁) φ'(u₂)] at c* (Schoenholz et al. 2017, "Deep
Information Propagation"); at the critical line ξ_c diverges.

One-dimensional expectations E[f(√q z)] (:func:`expect`) use Gauss–Legendre panels cut at the kink and where
tanh/sigmoid bend, right at any q (plain Gauss–Hermite misses a saturating activation's turn once √q ≳ 5).
Two-dimensional ones (the correlation map) use a product of ``numpy.polynomial.hermite_e.hermegauss`` rules
(weight e^{−z²/2}) at the moderate q* where they are needed. n = 100 is even, so no node sits on ReLU's kink at 0
and the nodes pair up symmetrically: at c = 1, E[relu'(u₁) relu'(u₂)] comes out 1/2 to round-off. Correlated
pairs (c < 1) put the kink between nodes: there the error is ~1e-3.
"""
import functools

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from . import activations

__all__ = ["expect", "phi", "phi_prime", "length_map", "q_sequence", "fixed_point", "chi1",
           "correlation_map", "correlation_fixed_point", "chi_c", "correlation_depth", "critical_sigma_w2"]

_NODES = 100          # even: no node on ReLU's kink (see the module docstring)


@functools.lru_cache(maxsize=None)
def _rule(n=_NODES):
    """Gauss–Hermite nodes and weights for E over z ~ N(0, 1), computed once per n (hermegauss solves an
    eigenproblem), read-only."""
    z, w = hermegauss(n)
    w = w / np.sqrt(2 * np.pi)              # weights now sum to 1: Σ w f(z) ≈ E[f(z)], z ~ N(0, 1)
    z.flags.writeable = w.flags.writeable = False
    return z, w


def phi(name):
    """The activation φ(z) named ``name`` (see :data:`npnet.activations.ACTIVATIONS`)."""
    return activations.ACTIVATIONS[activations.check_name(name)]


def phi_prime(name):
    """φ'(z) as a function of the pre-activation z (the derivative table may take the output a = φ(z))."""
    grad, takes = activations.DERIVATIVES[activations.check_name(name)]
    f = phi(name)
    if name == "relu":
        return lambda z: (np.asarray(z) > 0).astype(float)      # relu'(0) has probability zero here
    return (lambda z: grad(f(z))) if takes == "a" else grad


_PANEL_NODES = 48     # Gauss–Legendre nodes per panel of expect
_Z_MAX = 12.0         # P(|z| > 12) ≈ 4e-33: the Gaussian tails beyond it do not count


def expect(f, q=1.0):
    """E_{z~N(0,1)}[f(√q z)] at any q ≥ 0; q may be an array (one value per q).

    Not plain Gauss–Hermite: its nodes sit ~0.25 apart near z = 0, so once √q ≳ 5 a tanh or sigmoid turns from −1
    (or 0) to 1 between two nodes and the rule misses the turn (E[tanh(√500 z)²] comes out 0.9991 instead of
    0.965; a 10 × 500 net with W ~ N(0, 1) has q = 500). Instead z ∈ [−12, 12] is cut at ±a, a = min(8/√q, 6)
    (so |u| = √q|z| ≤ 8 inside, where the activations bend) and at ReLU's kink z = 0, and each of the four panels
    gets 48-point Gauss–Legendre on f(√q z)·φ(z). Where Gauss–Hermite is right (q ≲ 1) the two agree to ~1e-10.
    """
    q = np.asarray(q, dtype=float)
    x, w = np.polynomial.legendre.leggauss(_PANEL_NODES)
    a = np.minimum(8.0 / np.sqrt(np.maximum(q, 1e-300)), 6.0)[..., None]
    total = 0.0
    for lo, hi in ((-_Z_MAX, -a), (-a, 0.0), (0.0, a), (a, _Z_MAX)):
        half = (hi - lo) / 2.0
        z = (lo + hi) / 2.0 + half * x
        density = np.exp(-z * z / 2.0) / np.sqrt(2.0 * np.pi)
        total = total + (half * w * density * f(np.sqrt(q)[..., None] * z)).sum(axis=-1)
    return total


def length_map(q, name, sigma_w2, sigma_b2=0.0):
    """One layer of the length map: σ_w² · E[φ(√q z)²] + σ_b²."""
    f = phi(name)
    return sigma_w2 * expect(lambda u: f(u) ** 2, q) + sigma_b2


def q_sequence(q1, name, sigma_w2, sigma_b2=0.0, depth=10):
    """Predicted E[z_l²] for layers l = 1 … depth, starting from layer 1's q1, every later layer with σ_w².

    Layer 1 sees the data, not a Gaussian: q1 = σ_w² · E[x²] (per-feature mean square, *not* the variance:
    inputs such as MNIST pixels are not centred) + σ_b². The map then runs from there (:func:`q_profile`).
    """
    return q_profile(float(q1), name, [sigma_w2] * (depth - 1), sigma_b2)


def fixed_point(name, sigma_w2, sigma_b2, q0=1.0, tol=1e-12, max_iter=10_000):
    """q* of the length map, by iteration from q0; ``inf`` when q grows without bound (e.g. ReLU, σ_w² ≥ 2)."""
    q = float(q0)
    for _ in range(max_iter):
        q_next = float(length_map(q, name, sigma_w2, sigma_b2))
        if not np.isfinite(q_next) or q_next > 1e12:
            return np.inf
        if abs(q_next - q) <= tol * max(1.0, q):
            return q_next
        q = q_next
    return q


def chi1(name, sigma_w2, q_star):
    """χ₁ = σ_w² · E[φ'(√q* z)²]: the slope of the correlation map at c = 1."""
    d = phi_prime(name)
    return float(sigma_w2 * expect(lambda u: d(u) ** 2, q_star))


def _pair_expectation(f, g, q, c, n=_NODES):
    """E[f(u₁) g(u₂)] for zero-mean Gaussians of variance q and correlation c (a product grid in z₁, z₂)."""
    z, w = _rule(n)
    z1, z2 = z[:, None], z[None, :]
    u1 = np.sqrt(q) * z1
    u2 = np.sqrt(q) * (c * z1 + np.sqrt(max(0.0, 1.0 - c * c)) * z2)
    return float((w[:, None] * w[None, :] * f(u1) * g(u2)).sum())


def correlation_map(c, name, sigma_w2, sigma_b2, q_star):
    """c_l from c_{l−1}: (σ_w² · E[φ(u₁) φ(u₂)] + σ_b²) / q*."""
    f = phi(name)
    return (sigma_w2 * _pair_expectation(f, f, q_star, c) + sigma_b2) / q_star


def correlation_fixed_point(name, sigma_w2, sigma_b2, q_star, c0=0.5, tol=1e-12, max_iter=100_000):
    """c* of the correlation map by iteration (1 in the ordered phase; below 1 in the chaotic phase)."""
    c = float(c0)
    for _ in range(max_iter):
        c_next = min(1.0, correlation_map(c, name, sigma_w2, sigma_b2, q_star))
        if abs(c_next - c) <= tol:
            return c_next
        c = c_next
    return c


def chi_c(name, sigma_w2, sigma_b2, q_star=None):
    """χ_c = σ_w² · E[φ'(u₁) φ'(u₂)] at the correlation fixed point c* (= χ₁ when c* = 1)."""
    if q_star is None:
        q_star = fixed_point(name, sigma_w2, sigma_b2)
    # c = 1 is always a fixed point (c_map(1) = q*/q*); it is the stable one exactly when χ₁ ≤ 1.
    chi_one = chi1(name, sigma_w2, q_star)
    if chi_one <= 1.0:
        return chi_one, 1.0
    c_star = correlation_fixed_point(name, sigma_w2, sigma_b2, q_star, c0=0.0)
    d = phi_prime(name)
    return float(sigma_w2 * _pair_expectation(d, d, q_star, c_star)), c_star


def correlation_depth(name, sigma_w2, sigma_b2):
    """ξ_c = −1 / ln χ_c: how many layers it takes two inputs' correlation to approach its fixed point."""
    q_star = fixed_point(name, sigma_w2, sigma_b2)
    if not np.isfinite(q_star):
        return np.nan
    chi, _ = chi_c(name, sigma_w2, sigma_b2, q_star)
    return np.inf if chi == 1.0 else -1.0 / np.log(chi)


def critical_sigma_w2(name, sigma_b2, lo=0.5, hi=4.0, tol=1e-8):
    """σ_w² on the critical line χ₁(σ_w², σ_b²) = 1, by bisection (tanh at σ_b² = 0.05: ≈ 1.76)."""
    if name == "relu":          # χ₁ = σ_w²/2 whatever q* is: closed form
        return 2.0

    def excess(s):
        return chi1(name, s, fixed_point(name, s, sigma_b2)) - 1.0
    f_lo = excess(lo)
    if f_lo * excess(hi) > 0:
        raise ValueError(f"no critical σ_w² for {name} with σ_b²={sigma_b2} in [{lo}, {hi}]")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        f_mid = excess(mid)
        if f_lo * f_mid <= 0:
            hi = mid
        else:
            lo, f_lo = mid, f_mid
    return 0.5 * (lo + hi)


__all__ += ["q_profile", "preserving_gain"]


def q_profile(q1, name, sigma_w2s, sigma_b2=0.0):
    """Predicted E[z_l²] for layers 1 … 1 + len(sigma_w2s) when each later layer has its own σ_w² = fan_in·Var(w).

    The length map by :func:`expect`, right at any q (saturating nets have q in the hundreds).
    Like :func:`q_sequence` (q1 = σ_w,1² · E[x²] from the data, not Var), for nets whose layers differ in
    fan-in or init (Xavier's σ_w² = 2·fan_in/(fan_in + fan_out) is not 1 next to a 784-pixel input). ``q1`` may
    be an array, one value per input (each image its own E[x²]): the rows of the result follow each one. Returns
    shape ``(len(sigma_w2s) + 1,) + np.shape(q1)``.
    """
    f = phi(name)
    qs = [np.asarray(q1, dtype=float)]
    for s in sigma_w2s:
        qs.append(s * expect(lambda u: f(u) ** 2, qs[-1]) + sigma_b2)
    return np.stack(qs)


def preserving_gain(f, q=1.0):
    """The weight gain g (W ~ N(0, g²/fan_in)) that makes q = E[z²] a fixed point: √(q / E[f(√q z)²]).

    ``f`` is a function or an activation name. It is the same at every q only when f is positively homogeneous
    (identity 1, relu √2, leaky_relu √(2/(1 + a²))); for tanh, sigmoid, selu it depends on q.
    """
    f = phi(f) if isinstance(f, str) else f
    q = np.asarray(q, dtype=float)
    return np.sqrt(q / expect(lambda u: f(u) ** 2, q))
