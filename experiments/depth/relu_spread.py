"""relu-spread: 20 layers without bias, A) Xavier + identity, B) Xavier + ReLU, C) He + ReLU, on Gaussian and MNIST
input."""
import math

import numpy as np

from npnet import meanfield

from .. import _outputs as outputs, _parallel as parallel
from .. import _plotting as plotting
from .forward import ACT, forward, mean_sq, over_seeds, rng_for, theory_rows, versus_theory


RS_CASES = {"A) Xavier + Identity": ("identity", 1.0), "B) Xavier + ReLU": ("relu", 1.0),
            "C) He + ReLU": ("relu", 2.0)}          # (activation, σ_w² = fan_in·Var(w))
RS_HIST_LAYERS = (1, 5, 10, 20)
RS_PUBLISHED = {"A) Xavier + Identity": "E[a²] flat", "B) Xavier + ReLU": "E[a²] halves per layer (straight line on "
                "a log axis)", "C) He + ReLU": "E[a²] flat", "ratio": "E[relu(z)²]/E[z²] ≈ 1/2 in every layer",
                "zero_fraction": "≈ 1/2"}
RS_INPUTS = ("gaussian", "mnist")


def relu_spread_run(task):
    seed, X_mnist, n_gauss, width, depth, with_hists = task
    rng = rng_for(seed, "relu-spread")
    inputs = {"gaussian": rng.standard_normal((n_gauss, width)), "mnist": X_mnist}
    W_mnist = rng.standard_normal((width, X_mnist.shape[1]))      # MNIST's first layer: fan-in 784
    weights = [rng.standard_normal((width, width)) for _ in range(depth)]
    out = {}
    for inp, X in inputs.items():
        Ws = weights if inp == "gaussian" else [W_mnist] + weights[1:]
        for case, (act, s2) in RS_CASES.items():
            scales = [math.sqrt(s2 / W.shape[1]) for W in Ws]
            rows, hists = forward(X, Ws, scales, ACT[act], hist_at=RS_HIST_LAYERS if with_hists else (), bins=60)
            out[(inp, case)] = {"layers": rows, "hists": hists}
    return out


def run(X_mnist, n_gauss, width, depth, seeds, jobs, progress):
    tasks = [(s, X_mnist, n_gauss, width, depth, i == 0) for i, s in enumerate(seeds)]
    runs = parallel.parallel_map(relu_spread_run, tasks, jobs)
    ex2 = {"gaussian": 1.0, "mnist": mean_sq(X_mnist)}        # E[x²]: randn's is 1; the pixels' is measured
    res = {"settings": {"depth": depth, "width": width, "gaussian_input": [n_gauss, width],
                        "mnist_input": list(X_mnist.shape), "bias": "none", "seeds": seeds,
                        "E_x2": ex2, "Var_x_mnist": float(X_mnist.var()),
                        "hist_files": {case: hist_file(case) for case in RS_CASES}},
           "published": RS_PUBLISHED, "runs": {}}
    for inp in RS_INPUTS:
        for case, (act, s2) in RS_CASES.items():
            per_seed = [run[(inp, case)]["layers"] for run in runs]
            q = meanfield.q_profile(s2 * ex2[inp], act, [s2] * (depth - 1))   # ReLU/identity: linear in q, so
            th = theory_rows(q, act)                                          # the pooled E[x²] is exact
            stats = {k: over_seeds(per_seed, k) for k in ("Ez2", "Ea2", "ratio_Ea2_Ez2", "ratio_Var", "frac_zero",
                                                           "input_share_a")}
            res["runs"][f"{inp}/{case}"] = {
                "input": inp, "case": case, "activation": act, "sigma_w2": s2,
                "mean_over_seeds": {k: v[0].tolist() for k, v in stats.items()},
                "sd_over_seeds": {k: v[1].tolist() for k, v in stats.items()},
                "seed0": runs[0][(inp, case)]["layers"], "hists_seed0": runs[0][(inp, case)]["hists"],
                "theory": th, "Ea2_measured_over_theory": versus_theory(stats["Ea2"][0], th["Ea2"]),
                "Ez2_measured_over_theory": versus_theory(stats["Ez2"][0], q),
                "Ea2_last_over_first": stats["Ea2"][0][-1] / stats["Ea2"][0][0]}
            r = res["runs"][f"{inp}/{case}"]
            progress(f"relu-spread: {inp:8s} {case:21s} E[a²] layer 1 → {depth}: {stats['Ea2'][0][0]:.3g} → "
                     f"{stats['Ea2'][0][-1]:.3g} (theory {th['Ea2'][-1]:.3g}); E[a²]/E[z²] "
                     f"{np.mean(r['mean_over_seeds']['ratio_Ea2_Ez2']):.3f}")
    return res


HIST_FILES = {"A) Xavier + Identity": "relu_spread_hist_xavier_identity.png",
              "B) Xavier + ReLU": "relu_spread_hist_xavier_relu.png", "C) He + ReLU": "relu_spread_hist_he_relu.png"}


def hist_file(case):
    return HIST_FILES[case]         # the study's A, B, C histograms, under plain names


def plot_relu_spread_hists(res, case, path):
    """z and a at four layers, every panel on ONE x range (the widest panel's): a signal that shrinks with depth
    shows as a histogram that narrows to a spike. Where it is narrower than 1/8 of that range, the spike is drawn
    as a line of its height and an inset shows its shape, magnified (the factor is printed)."""
    runs = [res["runs"][f"{inp}/{case}"] for inp in RS_INPUTS]
    reach = max(max(abs(e) for e in run["hists_seed0"][layer][key]["edges"])
                for run in runs for layer in RS_HIST_LAYERS for key in ("z", "a"))
    fig, axes = outputs.plt.subplots(len(RS_HIST_LAYERS), 4, figsize=(15, 2.5 * len(RS_HIST_LAYERS)), sharex=True)
    for j, (inp, key) in enumerate((i, k) for i in RS_INPUTS for k in ("z", "a")):
        run = res["runs"][f"{inp}/{case}"]
        color = "C0" if key == "z" else "C1"
        for i, layer in enumerate(RS_HIST_LAYERS):
            ax, h = axes[i, j], run["hists_seed0"][layer][key]
            counts, edges = np.asarray(h["counts"], dtype=float), np.asarray(h["edges"])
            share = counts / counts.sum()
            ax.set_xlim(-reach, reach)
            ax.set_ylim(0, 1.15 * share.max())
            ax.yaxis.set_major_locator(outputs.plt.MaxNLocator(3))
            ax.tick_params(labelsize=7)
            width = edges[-1] - edges[0]
            if width < reach / 4:            # narrower than 1/8 of the axis: a spike, and its shape in an inset
                ax.vlines(0.5 * (edges[0] + edges[-1]), 0, share.max(), color=color, linewidth=2)
                inset = ax.inset_axes((0.04, 0.35, 0.38, 0.5))
                inset.stairs(share, edges, fill=True, color=color)
                inset.set_xlim(edges[0], edges[-1])
                inset.set_yticks([])
                inset.tick_params(labelsize=5)
                inset.locator_params(axis="x", nbins=3)
                inset.set_title(f"×{2 * reach / width:.0f} magnified", fontsize=6, pad=2)
            else:
                ax.stairs(share, edges, fill=True, color=color)
            row = run["seed0"][layer - 1]
            ax.text(0.98, 0.95, f"E[{key}²] {row['E' + key + '2']:.3g}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=7)
            if i == 0:
                ax.set_title(f"{key} ({'pre-activation' if key == 'z' else 'activation'}), {inp} input", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"layer {layer}\nshare per bin", fontsize=9)
            if i == len(RS_HIST_LAYERS) - 1:
                ax.set_xlabel("pre-activation z" if key == "z" else "activation a", fontsize=8)
    s = res["settings"]
    bins = len(runs[0]["hists_seed0"][RS_HIST_LAYERS[0]]["z"]["counts"])
    fig.suptitle(f"relu-spread {case}: histograms at layers {', '.join(map(str, RS_HIST_LAYERS))} (seed 0; {bins} "
                 f"bins over ±4 RMS of each panel); width {s['width']}, Gaussian input {s['gaussian_input'][0]}×"
                 f"{s['gaussian_input'][1]} and {s['mnist_input'][0]} MNIST images.\nOne x range for every panel: "
                 "a distribution that shrinks with depth narrows to a spike (insets: its shape, magnified)",
                 fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.06, hspace=0.3, wspace=0.15)
    outputs.save_figure(fig, path)


#: how each relu-spread case is drawn: B and C are one net up to a scale (same draws, ReLU positively homogeneous),
#: so wherever their curves coincide B is drawn wide and pale under C, and both stay visible (A, level with C on
#: E[a²], likewise a little wider)
RS_DRAW = {"A) Xavier + Identity": dict(color="C0", linewidth=3.5, alpha=0.5, zorder=2.5),
           "B) Xavier + ReLU": dict(color="C1", linewidth=5, alpha=0.35, zorder=2),
           "C) He + ReLU": dict(color="C2", linewidth=1.5, zorder=3)}

RS_INPUT_STYLE = {"gaussian": "-", "mnist": (0, (6, 2, 1, 2))}         # MNIST dash-dot (theory is dashed)
RS_INPUT_WORDS = {"gaussian": "Gaussian input", "mnist": "MNIST input"}


def _rs_lines(ax, res, key, theory_key=None, band=True, cases=None):
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for case in cases or RS_CASES:
        for inp in RS_INPUTS:
            run = res["runs"][f"{inp}/{case}"]
            m, sd = np.asarray(run["mean_over_seeds"][key]), np.asarray(run["sd_over_seeds"][key])
            ax.plot(layers, m, linestyle=RS_INPUT_STYLE[inp], **RS_DRAW[case])
            if band:   # ± SD as a factor 1 + SD/mean, so that the band fits a log axis
                ax.fill_between(layers, m / (1 + sd / m), m * (1 + sd / m), color=RS_DRAW[case]["color"], alpha=0.15,
                                linewidth=0)
            if theory_key:
                plotting.theory(ax, layers, run["theory"][theory_key])
    ax.set_xlabel("layer")
    plotting.integer_ticks(ax)
    ax.grid(True, which="both", alpha=0.3)


def _rs_legend(ax, theory=False, extra=()):
    """Legend of the relu-spread line figures: a colour per case, a line style per input, outside the data."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], label=case, **{k: v for k, v in RS_DRAW[case].items() if k != "zorder"})
               for case in RS_CASES]
    handles += [Line2D([], [], color="0.3", linestyle=RS_INPUT_STYLE[inp], label=RS_INPUT_WORDS[inp])
                for inp in RS_INPUTS]
    if theory:
        handles.append(plotting.theory_key())
    return plotting.legend_outside(ax, handles=[*handles, *extra], handlelength=3.5)


def plot_relu_spread_ex2(res, path):
    n_seeds = len(res["settings"]["seeds"])
    fig, (ax, ax2) = outputs.plt.subplots(2, 1, figsize=(10, 8.5), sharex=True)
    _rs_lines(ax, res, "Ea2", "Ea2")
    plotting.log_axis(ax, "y", f"E[a²], mean of {n_seeds} seeds")
    ax.set_title(f"E[a²] per layer: A and C flat, B halves. Band: ± SD over {n_seeds} seeds", fontsize=9)
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for case in RS_CASES:
        for inp in RS_INPUTS:
            ax2.plot(layers, res["runs"][f"{inp}/{case}"]["Ea2_measured_over_theory"], linestyle=RS_INPUT_STYLE[inp],
                     **RS_DRAW[case])
    ax2.axhline(1, color="k", linewidth=0.7)
    ax2.set_xlabel("layer")
    ax2.set_ylabel(f"measured / mean field\n(mean of {n_seeds} seeds)")
    ax2.set_title("measured / mean field: 1 in expectation, the scatter of a few nets grows like √(layer/width); "
                  "B coincides with C\n(same draws, ReLU is positively homogeneous: the wide pale line under C)",
                  fontsize=9)
    ax2.grid(True, alpha=0.3)
    _rs_legend(ax, theory=True)
    fig.suptitle(f"relu-spread E[a²] figure reproduced: mean ± SD over {n_seeds} seeds, width "
                 f"{res['settings']['width']}, {res['settings']['depth']} layers, no bias", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    outputs.save_figure(fig, path)


def plot_relu_spread_ratio(res, path):
    from matplotlib.lines import Line2D
    n_seeds = len(res["settings"]["seeds"])
    fig, ax = outputs.plt.subplots(figsize=(10, 5))
    layers = np.arange(1, res["settings"]["depth"] + 1)
    relu_cases = list(RS_CASES)[1:]
    for case in relu_cases:
        for inp in RS_INPUTS:
            run = res["runs"][f"{inp}/{case}"]
            ax.plot(layers, run["mean_over_seeds"]["ratio_Ea2_Ez2"], linestyle=RS_INPUT_STYLE[inp], marker="o",
                    markersize=3, **RS_DRAW[case])
            ax.plot(layers, run["mean_over_seeds"]["ratio_Var"], linestyle=RS_INPUT_STYLE[inp], marker="x",
                    markersize=4, **RS_DRAW[case])
    plotting.theory(ax, layers, np.full(len(layers), 0.5), label="theory: 1/2 (E[·²] of a centred Gaussian z)")
    plotting.theory(ax, layers, np.full(len(layers), 0.5 - 0.5 / math.pi), linestyle=":",
                    label="theory: 1/2 − 1/(2π) (the Var ratio)")
    ax.set_xlabel("layer")
    ax.set_ylabel(f"ratio, mean of {n_seeds} seeds")
    ax.set_ylim(0.25, 0.6)
    plotting.integer_ticks(ax)
    ax.grid(True, alpha=0.3)
    marks = [Line2D([], [], color="0.3", marker="o", markersize=4, linestyle="none", label="o: E[a²] / E[z²]"),
             Line2D([], [], color="0.3", marker="x", markersize=5, linestyle="none", label="×: Var(a) / Var(z)")]
    handles, _ = ax.get_legend_handles_labels()
    cases = [Line2D([], [], label=case + (" (wide, under C: identical)" if case.startswith("B") else ""),
               **{k: v for k, v in RS_DRAW[case].items() if k != "zorder"}) for case in relu_cases]
    inputs = [Line2D([], [], color="0.3", linestyle=RS_INPUT_STYLE[inp], label=RS_INPUT_WORDS[inp])
              for inp in RS_INPUTS]
    plotting.legend_outside(ax, handles=[*cases, *inputs, *marks, *handles], handlelength=3.5)
    ax.set_title("relu-spread ratio figure reproduced: ReLU keeps 1/2 of E[z²], not of Var(z)", fontsize=10)
    outputs.save_figure(fig, path)


def plot_relu_zero_fraction(res, path):
    n_seeds = len(res["settings"]["seeds"])
    fig, (ax, ax2) = outputs.plt.subplots(1, 2, figsize=(13, 4.8))
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for inp in RS_INPUTS:
        run = res["runs"][f"{inp}/C) He + ReLU"]
        wide = dict(linewidth=5, alpha=0.35) if inp == "gaussian" else dict(linewidth=1.5)
        ax.plot(layers, run["mean_over_seeds"]["frac_zero"], linestyle=RS_INPUT_STYLE[inp], color="C2",
                label=RS_INPUT_WORDS[inp] + (" (wide, under MNIST)" if inp == "gaussian" else ""), **wide)
        ax2.plot(layers, run["mean_over_seeds"]["input_share_a"], linestyle=RS_INPUT_STYLE[inp], color="C4",
                 marker="o", markersize=3, label=RS_INPUT_WORDS[inp])
    plotting.theory(ax, layers, np.full(len(layers), 0.5), label="theory: 1/2")
    ax.set_ylabel(f"share of outputs a exactly 0\n(mean of {n_seeds} seeds)")
    ax.set_title("zero share: stays ≈ 1/2 on either input", fontsize=9)
    ax2.set_ylabel(f"input-dependent share of Var(a)\n(mean of {n_seeds} seeds)")
    ax2.set_title("the units turn input-independent with depth", fontsize=9)
    for a in (ax, ax2):
        a.set_xlabel("layer")
        a.set_ylim(-0.02, 1.02)
        plotting.integer_ticks(a)
        a.grid(True, alpha=0.3)
        a.legend(fontsize=8, loc="upper right", handlelength=3.5)
    ax.set_ylim(0.4, 0.65)                 # close up: the two inputs and 1/2 differ by less than 0.02
    fig.suptitle("relu-spread zero-fraction figure reproduced, C) He + ReLU (B shares its draws, and ReLU is "
                 "positively homogeneous: its zeros are the same)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    outputs.save_figure(fig, path)
