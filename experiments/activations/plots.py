"""The figures: activation RMS and saturation by depth, histograms, and the variance argument tested."""
import math

import numpy as np

from .. import _outputs as outputs
from .assumptions import relu_factor_gaussian
from .layers import ACTS, DEPTH, HIST_CASES, HIST_LAYERS, INITS


INIT_COLORS = {label: f"C{i}" for i, label in enumerate(INITS)}


def plot_depth(depth, width, path):
    fig, axes = outputs.plt.subplots(3, 3, figsize=(14, 10), sharex=True)
    for col, act in enumerate(ACTS):
        top, middle, bottom = axes[:, col]
        share = "frac_zero" if act == "relu" else "frac_saturated"
        for res in (r for r in depth if r["activation"] == act):
            layers = [r["layer"] for r in res["layers"]]
            style = dict(color=INIT_COLORS[res["init"]], marker="o", markersize=4)
            top.plot(layers, [r["rms_z"] for r in res["layers"]], label=res["init"], **style)
            top.plot(layers, [math.sqrt(r["Ez2_theory"]) for r in res["layers"]], ":", color="k", linewidth=1.0)
            middle.plot(layers, [r["signal_share"] for r in res["layers"]], **style)
            bottom.plot(layers, [r[share] for r in res["layers"]], **style)
        top.set_yscale("log")
        top.set_title(act, fontsize=10)
        middle.set_yscale("log")
        bottom.set_ylim(-0.03, 1.03)
        bottom.set_xlabel("hidden layer (1 = next to the input)")
        bottom.set_ylabel("share of outputs exactly 0" if act == "relu" else
                          "share saturated (" + ("|a| > 0.99" if act == "tanh" else "a < 0.01 or a > 0.99") + ")")
        for ax in (top, middle, bottom):
            ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("RMS of the pre-activation z\n(dotted: mean-field theory)")
    axes[1, 0].set_ylabel("input-dependent share of E[z²]\n(Var over the batch / E[z²])")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Forward signal at initialization: {DEPTH} hidden layers of {width}, MNIST images as input. "
                 "The four ReLU nets share one seed and ReLU is positively homogeneous,\nso they are one net up to a "
                 "per-layer scale: their shares coincide, and the scale is all that differs", fontsize=10)
    outputs.save_figure(fig, path)


def plot_histograms(depth, path):
    cases = [next(r for r in depth if (r["activation"], r["init"]) == case) for case in HIST_CASES]
    fig, axes = outputs.plt.subplots(len(cases), len(HIST_LAYERS), figsize=(12, 2.0 * len(cases)))
    for i, res in enumerate(cases):
        for j, k in enumerate(HIST_LAYERS):
            ax = axes[i, j]
            row = res["layers"][k - 1]
            counts, edges = np.asarray(row["hist_counts"]), np.asarray(row["hist_edges"])
            ax.bar(edges[:-1], counts / counts.sum(), width=np.diff(edges), align="edge",
                   color=INIT_COLORS[res["init"]])
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.text(0.98, 0.95, f"RMS {row['rms_a']:.2g}", transform=ax.transAxes, ha="right", va="top", fontsize=7)
            if i == 0:
                ax.set_title(f"layer {k}", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{res['activation']}\n{res['init']}", fontsize=9)
    fig.suptitle("Histograms of the activations a = f(z) at initialization (share of outputs per bin)", fontsize=10)
    fig.tight_layout()
    outputs.save_figure(fig, path)


ACT_STYLES = {"tanh": "-", "relu": "--", "sigmoid": ":"}


def label(ax, xlabel, ylabel, title, legend=False):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if legend:
        ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)


def plot_per_layer(ax, depth, key, ylabel, title, log=False, lines=(1.0,)):
    """One line per (activation, init) net: ``key`` of each hidden layer, with reference lines at ``lines``."""
    for res in depth:
        ax.plot([r["layer"] for r in res["layers"]], [r[key] for r in res["layers"]], ACT_STYLES[res["activation"]],
                color=INIT_COLORS[res["init"]], marker="o", markersize=3, label=f"{res['activation']}, {res['init']}")
    for y in lines:
        ax.axhline(y, color="k", linewidth=0.7, linestyle="-" if y == 1 else "--")
    if log:
        ax.set_yscale("log")
    label(ax, "hidden layer", ylabel, title)


def plot_variance_argument(depth, training, bias, width, path):
    fig, axes = outputs.plt.subplots(2, 3, figsize=(16, 9))
    plot_per_layer(axes[0, 0], depth, "ratio", "measured E[u²] / n·E[w²]·E[x²]",
                   "at init: the prediction holds, up to one net's scatter")
    plot_per_layer(axes[0, 1], depth, "ratio_with_var_x", "measured E[u²] / n·E[w²]·Var(x)",
                   "the slip: Var(x) for E[x²] fails for inputs of nonzero mean", log=True)
    plot_per_layer(axes[0, 2], depth, "g", "g = E[f(z)²] / E[z²]",
                   "what f passes on: ReLU 1/2 (He), tanh ≈ 1 for small z (Xavier)", log=True, lines=(0.5, 1.0))

    ax = axes[1, 0]
    epochs = training["per_epoch"]
    cmap = outputs.plt.get_cmap("viridis")
    for i, ep in enumerate(epochs):
        ax.plot([r["layer"] for r in ep["layers"]], [r["ratio"] for r in ep["layers"]], marker="o", markersize=3,
                color=cmap(i / max(1, len(epochs) - 1)), label=f"epoch {ep['epoch']} (test acc {ep['test_acc']:.2f})")
    ax.axhline(1, color="k", linewidth=0.7)
    label(ax, "hidden layer", "measured E[u²] / n·E[w²]·E[x²]",
          "(a, b) training correlates the weights\n784-5×100-10 ReLU, He, SGD on MNIST", legend=True)

    ax = axes[1, 1]
    betas = np.linspace(0, max(r["bias_over_sd_u"] for r in bias["rows"]), 101)
    ax.plot(betas, [relu_factor_gaussian(b) for b in betas], "k-", linewidth=0.8, label="Gaussian z: formula")
    ax.plot([r["bias_over_sd_u"] for r in bias["rows"]], [r["g"] for r in bias["rows"]], "o", color="C3",
            label=f"measured, He layers of {bias['width']}, mean of {bias['seeds']} seeds")
    ax.axhline(0.5, color="k", linewidth=0.7, linestyle="--")
    label(ax, "bias β, in units of SD(u)", "ReLU's g = E[relu(z)²] / E[z²]",
          "(c) a bias makes z asymmetric: g leaves He's 1/2", legend=True)

    ax = axes[1, 2]
    widths = np.asarray([r["width"] for r in width["rows"]], dtype=float)
    sd = np.asarray([r["sd_log_ratio"] for r in width["rows"]])
    ax.loglog(widths, sd, "o-", label="SD of log(measured/predicted), one net")
    ax.loglog(widths, sd[0] * np.sqrt(widths[0] / widths), "k--", linewidth=0.8, label="∝ 1/√width")
    for r in width["rows"]:
        ax.annotate(f"mean ratio {r['mean_ratio']:.3f}\nmean g {r['mean_g']:.3f}", (r["width"], r["sd_log_ratio"]),
                    textcoords="offset points", xytext=(6, -16), fontsize=6)
    label(ax, "width", "SD of log ratio", f"finite width: scatter ∝ width^{width['slope_log_sd_vs_log_width']:.2f}; "
          f"means over {len(width['seeds'])} seeds stay at 1 and 1/2", legend=True)

    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=8, frameon=False)
    fig.suptitle("The variance argument behind Xavier and He, tested layer by layer on MNIST inputs", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    outputs.save_figure(fig, path)
