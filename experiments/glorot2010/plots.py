"""The figures of experiments.glorot2010 (house style: ours as mean line + min–max band with the seed count, theory
as a thin dark dashed line, published values as black-edged gold stars, legends outside the data)."""
import numpy as np

from .. import _outputs as outputs
from .. import _plotting as plotting
from .training import CONFIGS

PAPER = "Glorot & Bengio 2010"
LAYER_COLORS = ["C0", "C1", "C2", "C3", "C4"]


def band(ax, x, b, color, label, seeds, **kw):
    """Ours in the house style: the mean over seeds and its min–max band."""
    return plotting.ours(ax, x, b["mean"], b["min"], b["max"], label=label, seeds=seeds, color=color, **kw)


def legend_right(ax):
    plotting.legend_outside(ax, "right")


def saturation(curves, specs, title, path, info):
    """One column per activation: rows (statistic, label)."""
    fig, axes = outputs.plt.subplots(len(specs[0][1]), len(specs), figsize=(6.2 * len(specs), 3.1 * len(specs[0][1])),
                                    squeeze=False)
    for j, (label, rows) in enumerate(specs):
        c = curves[label]
        x = c["updates"]
        for i, (stat, what) in enumerate(rows):
            ax = axes[i, j]
            for k, layer in enumerate(c["layers"]):
                band(ax, x, layer[stat], LAYER_COLORS[k], f"hidden layer {k + 1}", c["seeds"])
            ax.set_ylabel(what)
            ax.set_title(f"{label}, standard init: {what}", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("SGD updates (minibatches of 10)")
            if j == len(specs) - 1:
                legend_right(ax)
    fig.suptitle(f"{title}\ndata: {info}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def histograms(study, key, what, paper_says, path):
    """Fig. 6/7/8 style: per init a panel of per-layer histogram lines (first seed), and a panel of per-layer
    variance (band over seeds) with the mean-field line."""
    fig, axes = outputs.plt.subplots(2, 2, figsize=(12, 7), gridspec_kw={"width_ratios": [1.6, 1]})
    for i, init in enumerate(("standard", "normalized")):
        s = study[init][key]
        edges = np.asarray(s["hist_edges"])
        centers = (edges[:-1] + edges[1:]) / 2
        ax = axes[i, 0]
        for k, dens in enumerate(s["hist_density"]):
            ax.plot(centers, dens, color=LAYER_COLORS[k], linewidth=1.3, label=f"layer {k + 1}")
        plotting.log_axis(ax, "y", "density")
        ax.set_xlabel(what)
        ax.set_title(f"{init} init (seed 0, {study['images']} test images)", fontsize=9)
        legend_right(ax)
        ax = axes[i, 1]
        x = np.arange(1, len(s["var"]["mean"]) + 1)
        band(ax, x, s["var"], "C3", "ours", study["seeds"], marker="o", markersize=3)
        plotting.theory(ax, x, s["predicted_var"], label="mean field" + (" (trend; level fitted at layer 1)"
                                                                         if key == "weight_gradients" else ""))
        plotting.log_axis(ax, "y", "variance per layer")
        ax.set_xticks(x)
        ax.set_xlabel("hidden layer (1 = next to the input)")
        ax.set_title(f"{init}: max/min over layers {s['max_over_min_var']:.2f}×", fontsize=9)
        plotting.legend_outside(ax, "right")
    fig.suptitle(f"{PAPER}: {paper_says}\ntanh, 784 → 5 × {study['width']} → 10, at initialization", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)


def table1(t1, seeds, settings, info, path):
    fig, ax = outputs.plt.subplots(figsize=(8.5, 4.2))
    labels = list(CONFIGS)
    x = np.arange(len(labels))
    rows = t1["rows"]
    means = [rows[k]["mean"] for k in labels]
    lo = [rows[k]["mean"] - rows[k]["min"] for k in labels]
    hi = [rows[k]["max"] - rows[k]["mean"] for k in labels]
    ax.errorbar(x - 0.1, means, yerr=[lo, hi], fmt="o", color="C0", capsize=4,
                label=f"ours (mean of {seeds} seeds, min–max bar; {settings['n_train']:,} training images, "
                      f"{settings['epochs']} epochs)")
    plotting.published(ax, x + 0.1, [rows[k]["paper"] for k in labels], PAPER,
                       "Table 1, MNIST (50,000 training images)", color="C0")
    ax.set_xticks(x, labels)
    ax.set_xlabel("activation (N = normalized init; others standard)")
    plotting.log_axis(ax, "y", "test error (%)")
    ax.set_title(f"Table 1 on MNIST: ranking and gaps, not absolute levels\ndata: {info}", fontsize=9)
    plotting.legend_outside(ax, "below")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    outputs.save_figure(fig, path)
