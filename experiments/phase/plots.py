"""The phase diagram (heatmap of test accuracy over σ_w² × depth, with the critical line and 3ξ_c, 6ξ_c) and ξ
measured against the formula."""
import numpy as np

from .. import _outputs as outputs
from .. import _plotting as plotting
from .protocol import LR_SCALE, PUBLISHED, SIGMA_B2, XI_C0


def _edges(values, log=False):
    """Cell edges for pcolormesh: midpoints between grid values (geometric midpoints on a log axis)."""
    v = np.asarray(sorted(values), dtype=float)
    if log:
        return np.exp(_edges(np.log(v)))
    mid = (v[1:] + v[:-1]) / 2
    half = (v[1] - v[0]) / 2 if len(v) > 1 else 0.25
    last = (v[-1] - v[-2]) / 2 if len(v) > 1 else 0.25
    return np.concatenate([[v[0] - half], mid, [v[-1] + last]])


def _heatmap(ax, rows, activation, theory, critical, xi_rows, title):
    sws = sorted({r["sigma_w2"] for r in rows if r["activation"] == activation})
    depths = sorted({r["depth"] for r in rows if r["activation"] == activation})
    acc = np.full((len(depths), len(sws)), np.nan)
    for r in rows:
        if r["activation"] == activation:
            acc[depths.index(r["depth"]), sws.index(r["sigma_w2"])] = r["test_acc"]
    y_edges = _edges(depths, log=True)
    mesh = ax.pcolormesh(_edges(sws), y_edges, acc, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_yscale("log")
    ax.set_yticks(depths, [str(d) for d in depths])
    ax.minorticks_off()
    for i, d in enumerate(depths):
        for j, s in enumerate(sws):
            ax.text(s, d, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=5.5,
                    color="white" if acc[i, j] < 0.6 else "black")
    top = y_edges[-1]
    s_fine = np.asarray(theory["sigma_w2"])
    xi = np.array([np.nan if x is None else x for x in theory["xi_c"]], dtype=float)
    for factor, style in ((3, ":"), (6, "--")):
        ax.plot(s_fine, np.minimum(factor * xi, 10 * top), "w" + style, lw=1.6, label=f"L = {factor} ξ_c")
    ax.axvline(critical, color="red", lw=1.2, label=f"critical σ_w² = {critical:.3f} (χ₁ = 1)")
    if activation == "tanh":
        plotting.published(ax, [PUBLISHED["critical_sigma_w2_tanh"]], [top], "Schoenholz et al. 2017",
                           f"critical σ_w² ≈ {PUBLISHED['critical_sigma_w2_tanh']} (star on the top edge)",
                           clip_on=False)
        meas = [(x["sigma_w2"], 6 * x["xi_measured"]) for x in xi_rows if x["xi_measured"]]
        if meas:
            ax.plot(*zip(*meas), "wo", mec="k", ms=5, label="6 ξ measured (wide random nets)")
    ax.set_ylim(y_edges[0], top)
    ax.set_xlim(_edges(sws)[0], _edges(sws)[-1])
    ax.set_xlabel("σ_w²  (W ~ N(0, σ_w²/fan_in))")
    ax.set_ylabel("depth L (hidden layers, log scale)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, facecolor="0.45",
              labelcolor="white")            # a grey box: the ξ_c lines are white, as on the heatmap
    return mesh


def figures(result, out):
    import matplotlib.pyplot as plt
    rows, th, xi_rows = result["cells"], result["theory"], result["correlation_depth"]["rows"]
    p = result["protocol"]
    has_relu = any(r["activation"] == "relu" for r in rows)
    fig, axes = plt.subplots(1, 2 if has_relu else 1, figsize=(13 if has_relu else 7.5, 6),
                             gridspec_kw={"width_ratios": [1.35, 1]} if has_relu else None, squeeze=False)
    common_title = (f"width {p['width']}, σ_b² = {p['sigma_b2']}, {p['steps']} SGD steps, batch {p['batch']}, "
                    f"lr = {LR_SCALE}/L")
    mesh = _heatmap(axes[0, 0], rows, "tanh", th["tanh"], th["tanh"]["critical_sigma_w2"], xi_rows,
                    f"tanh: MNIST test accuracy\n{common_title}")
    if has_relu:
        _heatmap(axes[0, 1], rows, "relu", th["relu"], 2.0, [], "ReLU (σ_w² > 2: no fixed point, q grows ×σ_w²/2 "
                 "per layer)\nξ_c = −1/ln(σ_w²/2) below 2")
    fig.colorbar(mesh, ax=axes[0, -1], label="test accuracy")
    fig.suptitle(f"Trainability phase diagram vs mean-field theory ({result['data']['source']})", fontsize=10)
    outputs.save_figure(fig, out / "phase_diagram.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    for x, color in zip(xi_rows, plt.cm.coolwarm(np.linspace(0, 1, len(xi_rows)))):
        n = len(x["gap_measured"])
        ax.semilogy(range(n), x["gap_measured"], "o", ms=2, color=color, label=f"σ_w² = {x['sigma_w2']:g}")
        ax.semilogy(range(n), 1.0 - np.asarray(x["c_mean_field"]), "-", lw=1, color=color)
    ax.set_xlim(0, 120)
    ax.set_ylim(1e-12, 2)
    ax.set_xlabel("layer l")
    ax.set_ylabel("1 − c_l  (c_l: correlation of two inputs; log scale)")
    ax.set_title(f"c₀ = {XI_C0}: measured (dots, width {result['correlation_depth']['width']}) vs mean-field map "
                 "(lines)\nordered: 1 − c → 0 with slope −1/ξ; chaotic: 1 − c → 1 − c*", fontsize=8.5)
    from matplotlib.lines import Line2D
    handles = ax.get_legend_handles_labels()[0] + [Line2D([], [], color="0.4", lw=1, label="lines: mean-field map")]
    ax.legend(handles=handles, fontsize=6.5, ncol=2, loc="lower right")
    ax = axes[1]
    s = np.asarray(th["tanh"]["sigma_w2"])
    ax.set_yscale("log")
    plotting.theory(ax, s, [np.nan if v is None else v for v in th["tanh"]["xi_c"]],
                    label="theory: ξ_c = −1/ln χ_c (formula)")
    if xi_rows:
        for method, marker in (("approach fit", "o"), ("fluctuation relaxation", "s")):
            pts = [(x["sigma_w2"], x["xi_measured"]) for x in xi_rows if x["xi_measured"] and x["method"] == method]
            if pts:
                ax.semilogy(*zip(*pts), marker, color="tab:orange", label=f"ξ measured: {method}")
    ax.axvline(th["tanh"]["critical_sigma_w2"], color="red", lw=1, label="critical σ_w²")
    ax.set_ylim(0.5, 1e3)
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("correlation depth ξ (layers, log scale)")
    ax.set_title(f"tanh, σ_b² = {SIGMA_B2}: ξ diverges at the critical line", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(s, th["tanh"]["q_star"], label="q* (fixed point of the length map)")
    ax.plot(s, th["tanh"]["chi1"], label="χ₁ = σ_w² E[φ'(√q* z)²]")
    ax.plot(s, th["tanh"]["c_star"], label="c* (correlation fixed point)")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.axvline(th["tanh"]["critical_sigma_w2"], color="red", lw=1)
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("mean-field value (no unit)")
    ax.set_title("tanh: ordered (χ₁ < 1) | chaotic (χ₁ > 1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.05, right=0.99, wspace=0.25)     # (tight_layout costs seconds of text layout)
    outputs.save_figure(fig, out / "phase_correlation_depth.png")
