"""Mean-field theory of signal propagation in wide random networks, by Gauss–Hermite quadrature.

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

Expectations over z ~ N(0, 1) use ``numpy.polynomial.hermite_e.hermegauss`` (weight e^{−z²/2}), exact for
polynomials up to degree 2·n − 1 and accurate to ~1e-10 for the smooth activations here. n = 100 is even, so no
node sits on ReLU's kink at 0 and the nodes pair up symmetrically: E[relu'(√q z)²] comes out 1/2 and E[relu(√q z)²]
q/2 to round-off. Correlated pairs (c < 1) put the kink between nodes: there the error is ~1e-3.
"""
import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from . import activations

__all__ = ["expect", "phi", "phi_prime", "length_map", "q_sequence", "fixed_point", "chi1",
           "correlation_map", "correlation_fixed_point", "chi_c", "correlation_depth", "critical_sigma_w2"]

_NODES = 100          # even: no node on ReLU's kink (see the module docstring)


def _rule(n=_NODES):
    z, w = hermegauss(n)
    return z, w / np.sqrt(2 * np.pi)        # weights now sum to 1: Σ w f(z) ≈ E[f(z)], z ~ N(0, 1)


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


def expect(f, q=1.0, n=_NODES):
    """E_{z~N(0,1)}[f(√q z)] by n-point Gauss–Hermite quadrature; q may be an array (one value per q)."""
    z, w = _rule(n)
    q = np.asarray(q, dtype=float)
    return (f(np.sqrt(q)[..., None] * z) * w).sum(axis=-1)


def length_map(q, name, sigma_w2, sigma_b2=0.0):
    """One layer of the length map: σ_w² · E[φ(√q z)²] + σ_b²."""
    f = phi(name)
    return sigma_w2 * expect(lambda u: f(u) ** 2, q) + sigma_b2


def q_sequence(q1, name, sigma_w2, sigma_b2=0.0, depth=10):
    """Predicted E[z_l²] for layers l = 1 … depth, starting from layer 1's q1.

    Layer 1 sees the data, not a Gaussian: q1 = σ_w² · E[x²] (per-feature mean square, *not* the variance:
    inputs such as MNIST pixels are not centred) + σ_b². The map then runs from there.
    """
    qs = [float(q1)]
    for _ in range(depth - 1):
        qs.append(float(length_map(qs[-1], name, sigma_w2, sigma_b2)))
    return np.array(qs)


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


# The quadrature rule depends on n alone, and hermegauss solves an n×n eigenproblem (~50 ms at n = 100) on
# every call: compute it once per n. Callers only read the returned arrays.
import functools  # noqa: E402

_rule = functools.lru_cache(maxsize=None)(_rule)
