"""The figures: activation RMS and saturation by depth, histograms, and the variance argument tested."""
import math

import numpy as np

from .. import _outputs as outputs
from .. import _plotting as plotting
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
            plotting.theory(top, layers, [math.sqrt(r["Ez2_theory"]) for r in res["layers"]])
            middle.plot(layers, [r["signal_share"] for r in res["layers"]], **style)
            bottom.plot(layers, [r[share] for r in res["layers"]], **style)
        top.set_title(act, fontsize=10)
        plotting.log_axis(top, "y", "RMS of the pre-activation z")
        share_label = "input-dependent share of E[z²]\n(Var over the batch / E[z²])"
        if act == "sigmoid":        # from 0.6 down to 1e-23: only a log axis shows it
            plotting.log_axis(middle, "y", share_label)
        else:
            middle.set_ylabel(share_label)
            middle.set_ylim(0, 1.03)
        bottom.set_ylim(-0.03, 1.03)
        bottom.set_xlabel("hidden layer (1 = next to the input)")
        bottom.set_ylabel("share of outputs exactly 0" if act == "relu" else
                          "share saturated (" + ("|a| > 0.99" if act == "tanh" else "a < 0.01 or a > 0.99") + ")")
        for ax in (top, middle, bottom):
            ax.grid(True, alpha=0.3)
    handles = [h for h in axes[0, 0].get_lines() if not h.get_label().startswith("_")]
    handles.sort(key=lambda h: h.get_label() == "mean-field theory")      # the inits first, theory last
    plotting.figure_legend(fig, handles, ncol=5, y=0.035)
    fig.suptitle(f"Forward signal at initialization: {DEPTH} hidden layers of {width}, MNIST images as input. "
                 "The four ReLU nets share one seed and ReLU is positively homogeneous,\nso they are one net up to a "
                 "per-layer scale: their shares coincide (one line shows for four), and the scale is all that "
                 "differs", fontsize=10)
    fig.subplots_adjust(bottom=0.08, hspace=0.12, wspace=0.3)
    outputs.save_figure(fig, path)


def plot_histograms(depth, path):
    cases = [next(r for r in depth if (r["activation"], r["init"]) == case) for case in HIST_CASES]
    fig, axes = outputs.plt.subplots(len(cases), len(HIST_LAYERS), figsize=(12, 2.1 * len(cases)))
    for i, res in enumerate(cases):
        for j, k in enumerate(HIST_LAYERS):
            ax = axes[i, j]
            row = res["layers"][k - 1]
            counts, edges = np.asarray(row["hist_counts"]), np.asarray(row["hist_edges"])
            ax.bar(edges[:-1], counts / counts.sum(), width=np.diff(edges), align="edge",
                   color=INIT_COLORS[res["init"]])
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(outputs.plt.MaxNLocator(5))
            ax.yaxis.set_major_locator(outputs.plt.MaxNLocator(3))
            ax.set_title(f"layer {k}: RMS of a {row['rms_a']:.2g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{res['activation']}, {res['init']}\nshare of outputs", fontsize=8)
            if i == len(cases) - 1 or HIST_CASES[i + 1][0] != res["activation"]:
                ax.set_xlabel(f"activation a = {res['activation']}(z)", fontsize=8)
    fig.suptitle("Histograms of the activations a = f(z) at initialization (share of the outputs in each bin)",
                 fontsize=10)
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


def plot_per_layer(ax, depth, key, ylabel, title, log=False, lines=((1.0, "prediction: 1"),)):
    """One line per (activation, init) net: ``key`` of each hidden layer, with theory lines at ``lines``."""
    for res in depth:
        ax.plot([r["layer"] for r in res["layers"]], [r[key] for r in res["layers"]], ACT_STYLES[res["activation"]],
                color=INIT_COLORS[res["init"]], marker="o", markersize=3, label=f"{res['activation']}, {res['init']}")
    for y, text in lines:
        plotting.theory(ax, [1, DEPTH], [y, y], label=text, linestyle="-" if y == 1 else (0, (4, 2)))
    label(ax, "hidden layer", ylabel + (" (log scale)" if log else ""), title)
    if log:
        ax.set_yscale("log")
    ax.legend(handles=[h for h in ax.get_lines()[len(depth):] if not h.get_label().startswith("_")], fontsize=7,
              loc={"ratio": "lower right", "g": "center right"}.get(key, "upper right"))


def plot_variance_argument(depth, training, bias, width, path):
    fig, axes = outputs.plt.subplots(2, 3, figsize=(16, 9.5))
    plot_per_layer(axes[0, 0], depth, "ratio", "measured E[u²] / n·E[w²]·E[x²]",
                   "1. at init: the prediction holds, up to one net's scatter\n(12 nets: legend below the figure)")
    plot_per_layer(axes[0, 1], depth, "ratio_with_var_x", "measured E[u²] / n·E[w²]·Var(x)",
                   "2. the slip: Var(x) for E[x²] fails for inputs of nonzero mean\n(the same 12 nets)", log=True)
    plot_per_layer(axes[0, 2], depth, "g", "g = E[f(z)²] / E[z²]",
                   "3. what f passes on: ReLU 1/2 (He), tanh ≈ 1 for small z (Xavier)\n(the same 12 nets)", log=True,
                   lines=((0.5, "ReLU: 1/2"), (1.0, "tanh, small z: 1")))

    ax = axes[1, 0]
    epochs = training["per_epoch"]
    cmap = outputs.plt.get_cmap("viridis")
    for i, ep in enumerate(epochs):
        ax.plot([r["layer"] for r in ep["layers"]], [r["ratio"] for r in ep["layers"]], marker="o", markersize=3,
                color=cmap(i / max(1, len(epochs) - 1)), label=f"epoch {ep['epoch']} (test acc {ep['test_acc']:.2f})")
    n_layers = len(epochs[0]["layers"])
    plotting.theory(ax, [1, n_layers], [1, 1], label="prediction: 1", linestyle="-")
    plotting.integer_ticks(ax)
    label(ax, "hidden layer", "measured E[u²] / n·E[w²]·E[x²]",
          "4. assumptions (a), (b) after training: the weights correlate\n784-5×100-10 ReLU, He, SGD on MNIST, "
          "seed 0", legend=True)

    ax = axes[1, 1]
    betas = np.linspace(0, max(r["bias_over_sd_u"] for r in bias["rows"]), 101)
    plotting.theory(ax, betas, [relu_factor_gaussian(b) for b in betas], label="theory: Gaussian z", linestyle="-")
    ax.plot([r["bias_over_sd_u"] for r in bias["rows"]], [r["g"] for r in bias["rows"]], "o", color="C3",
            label=f"measured, He layers of {bias['width']}, mean of {bias['seeds']} seeds", zorder=4)
    plotting.theory(ax, [0, betas[-1]], [0.5, 0.5], label="He's 1/2 (no bias)")
    label(ax, "bias β, in units of SD(u)", "ReLU's g = E[relu(z)²] / E[z²]",
          "5. assumption (c) broken by a bias: z is asymmetric,\nand g leaves He's 1/2", legend=True)

    ax = axes[1, 2]
    widths = np.asarray([r["width"] for r in width["rows"]], dtype=float)
    sd = np.asarray([r["sd_log_ratio"] for r in width["rows"]])
    ax.plot(widths, sd, "o-", label="SD of log(measured/predicted), one net")
    plotting.theory(ax, widths, sd[0] * np.sqrt(widths[0] / widths), label="∝ 1/√width")
    for r in width["rows"]:
        ax.annotate(f"mean ratio {r['mean_ratio']:.3f}\nmean g {r['mean_g']:.3f}", (r["width"], r["sd_log_ratio"]),
                    textcoords="offset points", xytext=(6, -16), fontsize=6)
    label(ax, "width", "SD of log ratio", f"6. finite width: scatter ∝ width^{width['slope_log_sd_vs_log_width']:.2f};"
          f"\nmeans over {len(width['seeds'])} seeds stay at 1 and 1/2", legend=True)
    plotting.log_axis(ax, "x", "width")
    plotting.log_axis(ax, "y", "SD of log ratio")

    handles = [h for h in axes[0, 0].get_lines()[:len(depth)]]
    fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=6, fontsize=8, frameon=False,
               title="panels 1–3: one line per net (line style: activation; colour: init)", title_fontsize=8)
    fig.suptitle("The variance argument behind Xavier and He, tested layer by layer on MNIST inputs "
                 "(assumptions (a)–(c) as in docs/BACKPROP.md section 6)", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    outputs.save_figure(fig, path)
