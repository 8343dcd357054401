"""The figures of experiments.he2015, in the house style of ``experiments._plotting``."""
import math

import numpy as np

from .. import _outputs as outputs
from .. import _plotting as plotting
from .deep_relu import HE, STALL_LOSS, STD001, XAVIER

COLORS = {XAVIER: "C0", HE: "C3", STD001: "C2"}
PAPER = "He et al. 2015"


def band(ax, x, b, color, label, seeds):
    """Ours in the house style: the mean over seeds and its min–max band."""
    return plotting.ours(ax, x, b["mean"], b["min"], b["max"], label=f"{label}, ours", seeds=seeds, color=color)


def chance(ax, label="chance: ln 10 (a net that has learnt nothing)"):
    ax.axhline(math.log(10), label=label, **plotting.THEORY_STYLE)


def legend_below(ax, ncol=1):
    plotting.legend_outside(ax, "below", ncol=ncol)


def convergence(curves, depths, settings, info, path):
    fig, axes = outputs.plt.subplots(2, len(depths), figsize=(5.2 * len(depths), 7.2), sharex=True)
    axes = np.asarray(axes).reshape(2, -1)
    for j, depth in enumerate(depths):
        for label in (XAVIER, HE):
            key = f"{label} @ {depth}"
            e, l = curves["test_error_pct"][key], curves["train_loss"][key]
            x = np.arange(1, len(e["mean"]) + 1)
            band(axes[0, j], x, e, COLORS[label], label, e["seeds"])
            band(axes[1, j], x, l, COLORS[label], label, l["seeds"])
        chance(axes[1, j])
        axes[0, j].set_title(f"{depth} weight layers (784 → {depth - 1} × {settings['width']} ReLU → 10)", fontsize=9)
        axes[0, j].set_ylabel("test error (%)")
        axes[1, j].set_ylabel("training loss (cross-entropy, nats)")
        axes[1, j].set_xlabel("epoch")
        legend_below(axes[1, j], ncol=1)
    fig.suptitle(f"{PAPER}, Figs. 2–3 on MNIST (the paper: both inits train at 22 layers, He's earlier; at 30 "
                 f"\"Xavier\" stalls)\nSGD lr {settings['lr']}, momentum {settings['momentum']}, batch "
                 f"{settings['batch']}; data: {info}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def gradient_norms(grads, depths, n_seeds, path):
    fig, axes = outputs.plt.subplots(1, len(depths) + 1, figsize=(4.8 * (len(depths) + 1), 4.2))
    for ax, depth in zip(axes, depths):
        g = grads[str(depth)]
        x = np.arange(1, depth + 1)
        for label in (XAVIER, HE):
            band(ax, x, g[label]["grad_norm"], COLORS[label], label, n_seeds)
        ax.set_title(f"{depth} layers: ‖∂L/∂W_l‖ at initialization", fontsize=9)
        ax.set_xlabel("layer l (1 = next to the input)")
        plotting.log_axis(ax, "y", "weight-gradient norm ‖∂L/∂W_l‖")
        legend_below(ax, ncol=1)
    ax = axes[-1]
    for depth, color in zip(depths, ("C1", "C4", "C5")):
        g = grads[str(depth)]
        ax.plot(np.arange(1, depth + 1), g["ratio_xavier_over_he"], color=color, marker="o", markersize=3,
                label=f"{depth} layers, ours (ratio of seed means)")
        plotting.theory(ax, [1, depth], [g["predicted_ratio"]] * 2,
                        label="mean field: 2^(−(depth − 1)/2) at every layer")
    ax.set_title("\"Xavier\" ÷ He, layer by layer", fontsize=9)
    ax.set_xlabel("layer l (1 = next to the input)")
    plotting.log_axis(ax, "y", "gradient-norm ratio")
    legend_below(ax, ncol=1)
    fig.suptitle(f"{PAPER}: \"its gradients are all diminishing\" — every layer's gradient, not only the first",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def stall_depth(sweep, grads_sweep, stall, path):
    fig, axes = outputs.plt.subplots(1, 2, figsize=(11, 4.4))
    ax = axes[0]
    for label in (XAVIER, HE):
        pts = sorted((c["depth"], c) for c in sweep.values() if c["init"] == label)
        x = [d for d, _ in pts]
        b = {k: [c[k][-1] for _, c in pts] for k in ("mean", "min", "max")}
        band(ax, x, b, COLORS[label], label, pts[0][1]["seeds"])
    chance(ax, "chance: ln 10")
    ax.axhline(STALL_LOSS, color="0.5", linestyle=":", linewidth=1,
               label=f"stalled above {STALL_LOSS:.2f} (0.95 · ln 10)")
    if stall is not None:
        ax.axvline(stall, color=COLORS[XAVIER], linestyle=":", linewidth=1)
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("training loss after the budget (nats)")
    ax.set_title(f"where \"Xavier\" stalls: depth {stall if stall is not None else '> swept'}", fontsize=9)
    legend_below(ax, ncol=1)
    ax = axes[1]
    depths = sorted(int(d) for d in grads_sweep)
    ax.plot(depths, [grads_sweep[str(d)]["first_layer_ratio"] for d in depths], color="C0", marker="o",
            label="‖∂L/∂W_1‖ \"Xavier\" ÷ He at initialization, ours")
    plotting.theory(ax, depths, [2.0 ** (-(d - 1) / 2) for d in depths], label="mean field: 2^(−(depth − 1)/2)")
    ax.set_xlabel("depth (weight layers)")
    plotting.log_axis(ax, "y", "gradient ratio")
    ax.set_title("how much smaller \"Xavier\"'s gradients start", fontsize=9)
    legend_below(ax, ncol=1)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def forward_backward(study, path):
    widths = study["widths"]
    fig, axes = outputs.plt.subplots(1, 2, figsize=(11, 4.4))
    L = len(widths) - 1
    x = np.arange(1, L + 1)
    for ax, key, pkey, title, what in (
            (axes[0], "forward_rel", "predicted_forward_rel", "forward signal", "E[z_l²] ÷ E[z_1²]"),
            (axes[1], "backward_rel", "predicted_backward_rel", "backward signal",
             f"E[(∂L/∂x_l)²] ÷ E[(∂L/∂x_{L})²]")):
        for (label, s), color in zip(((k, v) for k, v in study.items() if k != "widths"), ("C0", "C3")):
            band(ax, x, s[key], color, f"scaled by {label}", s["seeds"])
            plotting.theory(ax, x, s[pkey], label="mean field (He's eqs. 10, 14)")
        plotting.log_axis(ax, "y", what)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(x, [f"{l}\n{widths[l - 1]}→{widths[l]}" for l in x], fontsize=7)
        ax.set_xlabel("Dense layer l (fan-in → fan-out)")
        legend_below(ax)
    fig.suptitle(f"{PAPER}: scaling by fan-in alone or fan-out alone is enough —\nthe other direction changes only "
                 f"by a ratio of widths, never exponentially (widths {' → '.join(map(str, widths))}, ReLU)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def std001(curves, fail_depth, equiv, path):
    fig, ax = outputs.plt.subplots(figsize=(7.5, 4.4))
    pts = sorted((c["depth"], c) for c in curves.values())
    x = [d for d, _ in pts]
    b = {k: [c[k][-1] for _, c in pts] for k in ("mean", "min", "max")}
    band(ax, x, b, COLORS[STD001], "W ~ N(0, 0.01²)", pts[0][1]["seeds"])
    chance(ax, "chance: ln 10")
    ax.axhline(0.5 * math.log(10), color="0.5", linestyle=":", linewidth=1, label="trains: below ½ ln 10")
    plotting.published(ax, 8, 0.5 * math.log(10), PAPER, "fails beyond ~8 conv layers (VGG)")
    if fail_depth is not None:
        ax.axvline(fail_depth, color=COLORS[STD001], linestyle=":", linewidth=1)
    ax.set_xlabel("depth (weight layers)")
    ax.set_ylabel("training loss after the budget (nats)")
    ax.set_title(f"fixed std 0.01: our width-{equiv['width']} MLP stops training at depth {fail_depth}; mean field "
                 f"carries that to ~{equiv['equivalent_conv_depth']:.0f} layers of 3×3×256 convolutions", fontsize=8)
    legend_below(ax, ncol=1)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)
