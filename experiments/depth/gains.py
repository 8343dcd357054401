"""gains: the gain that keeps E[z²] constant through 50 wide layers, by bisection, beside
npnet.init.calculate_gain (PyTorch's table) and the mean-field value."""
import math

import numpy as np

from npnet import init as npinit
from npnet import meanfield
from npnet.activations import SELU_ALPHA, SELU_SCALE

from .. import _outputs as outputs, _parallel as parallel
from .. import _plotting as plotting
from .forward import ACT, STUDY_PART, mean_sq


GAIN_ACTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
GAIN_SCALE_FREE = ("identity", "relu", "leaky_relu")   # positively homogeneous: the same bisection at every q
GAIN_Q_MORE = (0.1, 10.0)          # the default run also measures the others at these scales
GAIN_REL_TOL = 1e-3                # bisection stops when the bracket is this narrow (relative): well below the
                                   # net-to-net scatter (~1 % at width 512, 50 layers)


def table_gain(name):
    return npinit.calculate_gain("linear" if name == "identity" else name)


def bisect_gain(f, z0, weights, g_guess):
    """The gain g at which E[z²] after the stack equals E[z0²], by bisection on ln g.

    ``z0 (B, n)`` are the pre-activations fed in; each layer is z ← f(z)·(g/√n · W)ᵀ with the fixed draw
    ``weights (L, n, n)``; E[z_L²] grows with g for every f here, so the sign of ln(E[z_L²]/E[z0²]) brackets.
    """
    scale = 1.0 / math.sqrt(weights.shape[-1])

    def log_ratio(g):
        z = z0
        with np.errstate(over="ignore", under="ignore"):
            for W in weights:
                z = (f(z) @ W.T) * (g * scale)
        return math.log(mean_sq(z) / mean_sq(z0))

    lo, hi = g_guess / 1.1, g_guess * 1.1
    while log_ratio(lo) > 0:
        lo /= 1.1
    while log_ratio(hi) < 0:
        hi *= 1.1
    while hi / lo > 1 + GAIN_REL_TOL:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if log_ratio(mid) < 0 else (lo, mid)
    return math.sqrt(lo * hi)


def gain_run(task):
    """One net (one draw of weights): the measured gain of every (activation, q) in ``cases``."""
    seed, width, batch, depth, cases = task
    rng = np.random.default_rng([seed, STUDY_PART["gains"]])
    z = rng.standard_normal((batch, width))
    weights = rng.standard_normal((depth, width, width))        # shared by every activation and bisection step
    return {(name, q): bisect_gain(ACT[name], math.sqrt(q) * z, weights, float(meanfield.preserving_gain(ACT[name], q)))
            for name, q in cases}


def run(width, batch, depth, nets, more_q, seed, jobs, progress):
    cases = [(name, 1.0) for name in GAIN_ACTS] + [(name, q) for name in GAIN_ACTS if name not in GAIN_SCALE_FREE
                                                   for q in more_q]
    runs = parallel.parallel_map(gain_run, [(seed + i, width, batch, depth, cases) for i in range(nets)], jobs)
    q_grid = np.logspace(-2, 2, 401)
    rows = {}
    for name in GAIN_ACTS:
        theory = meanfield.preserving_gain(ACT[name], q_grid)
        table = table_gain(name)
        qs = [q for n, q in cases if n == name]
        per_net = {str(q): [run[(name, q)] for run in runs] for q in qs}
        scale_free = bool(np.ptp(theory) < 1e-6 * theory.mean())
        rows[name] = {"table": table, "measured": {q: float(np.mean(v)) for q, v in per_net.items()},
                      "measured_sd_over_nets": {q: float(np.std(v, ddof=1)) if len(v) > 1 else None
                                                for q, v in per_net.items()},
                      "measured_per_net": per_net,
                      "mean_field": {str(q): float(meanfield.preserving_gain(ACT[name], q)) for q in qs},
                      "mean_field_curve": {"q": q_grid.tolist(), "gain": theory.tolist()},
                      "variance_preserving": bool(scale_free and abs(theory[200] - table) < 1e-6 * table)}
        if not scale_free:        # g(q) rises with q for these: the q whose E[z²] the table's gain preserves
            rows[name]["table_preserves_q"] = float(np.exp(np.interp(table, theory, np.log(q_grid))))
        rows[name]["kind"] = (
            "variance-preserving at every scale (f positively homogeneous)" if rows[name]["variance_preserving"] else
            f"heuristic: the preserving gain depends on the scale (mean field {theory[0]:.3g} at q = 0.01, "
            f"{theory[200]:.3g} at 1, {theory[-1]:.3g} at 100); the table's {table:.3g} preserves "
            f"q = {rows[name]['table_preserves_q']:.2g}")
        m = rows[name]
        progress(f"gains: {name:10s} table {table:.4f}  measured at q=1 {m['measured']['1.0']:.4f} ± "
                 f"{m['measured_sd_over_nets']['1.0'] or 0:.4f}  mean field {m['mean_field']['1.0']:.4f}")
    return {"settings": {"width": width, "batch": batch, "layers": depth, "nets": nets,
                         "seeds": [seed + i for i in range(nets)],
                         "q_measured": sorted({q for _, q in cases}), "leaky_relu_slope": 0.01,
                         "selu_alpha_scale": [SELU_ALPHA, SELU_SCALE],
                         "method": f"N(0, q) pre-activations (batch × width) fed to {depth} × (f, Dense width→width, "
                                   "W ~ N(0, g²/width), no bias), one draw of W per net shared by every bisection "
                                   f"step; bisection on g until E[z²] at the end equals q (bracket < {GAIN_REL_TOL} "
                                   "relative); mean and SD over nets. identity/relu/leaky_relu are positively "
                                   "homogeneous: their bisection is the same at every q, so only q = 1 is run"},
            "activations": rows}


def plot_gains(res, path):
    from matplotlib.lines import Line2D
    n_nets = res["settings"]["nets"]
    fig, (ax, ax2) = outputs.plt.subplots(1, 2, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    for c, (name, r) in enumerate(res["activations"].items()):
        curve = r["mean_field_curve"]
        # leaky_relu (slope 0.01) lies on relu to 1e-4: drawn wide and pale under it so that both show
        wide = dict(linewidth=6, alpha=0.35, zorder=1) if name == "leaky_relu" else dict(linewidth=1.5, zorder=2)
        ax.plot(curve["q"], curve["gain"], "-", color=f"C{c}", label=name, **wide)
        ax.axhline(r["table"], color=f"C{c}", linestyle=":", linewidth=1.0)
        ax.errorbar([float(q) for q in r["measured"]], list(r["measured"].values()),
                    yerr=[v or 0.0 for v in r["measured_sd_over_nets"].values()], fmt="o", color=f"C{c}", markersize=7)
    plotting.log_axis(ax, "x", "q = E[z²] to be kept")
    ax.set_ylabel("gain g, W ~ N(0, g²/fan_in)")
    ax.set_title("Gain that keeps E[z²] = q through "
                 f"{res['settings']['layers']} layers of {res['settings']['width']}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    keys = [Line2D([], [], color="0.3", label="line: mean field"),
            Line2D([], [], color="0.3", marker="o", linestyle="none",
                   label=f"dots: measured by bisection (mean ± SD of {n_nets} nets)"),
            Line2D([], [], color="0.3", linestyle=":", label="dotted: calculate_gain table (PyTorch's)")]
    plotting.legend_outside(ax, "below", handles=[*handles, *keys], ncol=3, title="activation (colour)",
                            title_fontsize=8)
    names = list(res["activations"])
    x = np.arange(len(names))
    ax2.bar(x - 0.2, [res["activations"][n]["table"] for n in names], 0.4,
            label="npnet.init.calculate_gain (PyTorch's table)")
    ax2.bar(x + 0.2, [res["activations"][n]["measured"]["1.0"] for n in names], 0.4,
            label=f"measured at q = 1 (mean of {n_nets} nets)")
    for i, n in enumerate(names):
        ax2.text(i, 0.05, "preserving" if res["activations"][n]["variance_preserving"] else "heuristic",
                 rotation=90, ha="center", va="bottom", fontsize=8, color="w")
    ax2.set_xticks(x)
    ax2.set_xticklabels(names, fontsize=8)
    ax2.set_xlabel("activation")
    ax2.set_ylabel("gain g")
    plotting.legend_outside(ax2, "below")
    ax2.set_title("table vs measured (q = 1); 'preserving': the table's gain keeps E[z²] at every q", fontsize=9)
    fig.tight_layout()
    outputs.save_figure(fig, path)
