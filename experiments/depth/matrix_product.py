"""cs231n-notes' product of 100 random 4×4 N(0, 1) matrices: how fast it explodes (the top Lyapunov exponent)."""
import math

import numpy as np
from scipy.special import digamma, polygamma

from .. import _outputs as outputs
from .. import _plotting as plotting
from .forward import STUDY_PART


MP_PUBLISHED = [[4.2615e+25, -1.7832e+25, 3.8954e+25, -2.8061e+25], [1.1544e+25, -4.8303e+24, 1.0552e+25, -7.6013e+24],
                [4.5788e+25, -1.9160e+25, 4.1855e+25, -3.0151e+25], [-2.1569e+25, 9.0252e+24, -1.9716e+25, 1.4203e+25]]


def lyapunov_top(n):
    """Top Lyapunov exponent of products of n×n N(0, 1) matrices: ½(ln 2 + ψ(n/2)) (Newman 1986)."""
    return 0.5 * (math.log(2.0) + float(digamma(n / 2)))


def run(seed, draws, k_max=100, n=4):
    """log‖P_k‖_F for P_k = M_0·M_1·…·M_k, M ~ N(0, 1) n×n, ``draws`` independent products (renormalized as it goes).

    Also the same product with every M scaled by 1/√n (E‖Mv‖² = ‖v‖²: "variance-preserving"), whose logarithm
    still drifts, at λ₁ − ½ ln n < 0: the typical product shrinks though its mean square is preserved.
    """
    rng = np.random.default_rng([seed, STUDY_PART["cs231n-notes"], 4])
    P = rng.standard_normal((draws, n, n))
    first_draw = {"M": P[0].tolist()}
    log_norm = np.empty((draws, k_max + 1))
    acc = np.log(np.linalg.norm(P, axis=(1, 2)))
    P /= np.exp(acc)[:, None, None]
    log_norm[:, 0] = acc
    for k in range(1, k_max + 1):
        P = P @ rng.standard_normal((draws, n, n))
        nrm = np.linalg.norm(P, axis=(1, 2))
        acc = acc + np.log(nrm)
        P /= nrm[:, None, None]
        log_norm[:, k] = acc
    first_draw["product"] = (P[0] * math.exp(acc[0])).tolist()
    lam = lyapunov_top(n)
    ks = np.arange(k_max + 1)
    mean = log_norm.mean(axis=0)
    slope = float(np.polyfit(ks[10:], mean[10:], 1)[0])
    pub_log = float(np.log(np.linalg.norm(MP_PUBLISHED)))
    log_max_entry = np.log(np.abs(P).max(axis=(1, 2))) + acc     # P is renormalized: its scale is exp(acc)
    return {"n": n, "k_max": k_max, "draws": draws, "first_draw": first_draw,
            "first_draw_norm": float(math.exp(acc[0])),
            "first_draw_max_abs_entry": float(np.abs(first_draw["product"]).max()),
            "published_norm": float(math.exp(pub_log)), "published_max_abs_entry": 4.5788e25,
            "published_percentile": float(np.mean(log_norm[:, -1] < pub_log) * 100),
            # the largest |entry| of every draw's P_k_max, as its 5 % and 95 % quantiles over the draws
            "max_abs_entry_q05": float(np.exp(np.quantile(log_max_entry, 0.05))),
            "max_abs_entry_q95": float(np.exp(np.quantile(log_max_entry, 0.95))),
            "lyapunov_top": lam, "lyapunov_scaled_1_over_sqrt_n": lam - 0.5 * math.log(n),
            "measured_slope": slope, "sd_per_sqrt_k_theory": 0.5 * math.sqrt(float(polygamma(1, n / 2))),
            "sd_at_k_max": float(log_norm[:, -1].std()),
            "log_norm_mean": mean.tolist(),
            "log_norm_q10": np.quantile(log_norm, 0.1, axis=0).tolist(),
            "log_norm_q90": np.quantile(log_norm, 0.9, axis=0).tolist(),
            "log_norm_examples": log_norm[:20].tolist()}


def plot_matrix_product(mp, path):
    fig, ax = outputs.plt.subplots(figsize=(9, 5.5))
    ks = np.arange(mp["k_max"] + 1)
    for row in mp["log_norm_examples"]:
        ax.plot(ks, np.asarray(row) / math.log(10), color="C0", alpha=0.25, linewidth=0.7)
    ax.plot(ks, np.asarray(mp["log_norm_mean"]) / math.log(10), color="C0", linewidth=2,
            label=f"ours: mean over {mp['draws']} draws (10–90 % band; thin: 20 draws); slope "
                  f"{mp['measured_slope']:.3f} per matrix")
    ax.fill_between(ks, np.asarray(mp["log_norm_q10"]) / math.log(10), np.asarray(mp["log_norm_q90"]) / math.log(10),
                    color="C0", alpha=0.15)
    lam = mp["lyapunov_top"]
    offset = mp["log_norm_mean"][0]
    plotting.theory(ax, ks, (offset + lam * ks) / math.log(10),
                    label=f"theory: top Lyapunov exponent λ₁ = ½(ln 2 + ψ(2)) = {lam:.4f} per matrix")
    plotting.theory(ax, ks, (offset + mp["lyapunov_scaled_1_over_sqrt_n"] * ks) / math.log(10), linestyle=":",
                    label="theory, each M scaled by 1/√4 (mean square preserved): λ₁ − ½ln 4 = "
                          f"{mp['lyapunov_scaled_1_over_sqrt_n']:.3f}")
    plotting.published(ax, [mp["k_max"]], [math.log10(mp["published_norm"])], "cs231n-notes",
                       f"‖P‖ = {mp['published_norm']:.2g}, percentile {mp['published_percentile']:.0f} of ours",
                       color="C0")
    ax.set_xlabel("k: matrices multiplied onto the first")
    ax.set_ylabel("log₁₀ ‖M₀·M₁·…·M_k‖_F (Frobenius norm, in powers of 10)")
    ax.grid(True, alpha=0.3)
    plotting.legend_outside(ax, "below")
    ax.set_title("Product of random 4×4 N(0, 1) matrices: it explodes at the rate λ₁, and spreads like √k", fontsize=10)
    outputs.save_figure(fig, path)
