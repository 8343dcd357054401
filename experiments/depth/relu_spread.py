"""relu-spread: 20 layers without bias, A) Xavier + identity, B) Xavier + ReLU, C) He + ReLU, on Gaussian and MNIST
input."""
import math

import numpy as np

from npnet import meanfield

from .. import _outputs as outputs, _parallel as parallel
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


def hist_file(case):
    return f"hist_{case.replace(' ', '_')}.png"       # the study's own names, e.g. hist_A)_Xavier_+_Identity.png


def plot_relu_spread_hists(res, case, path):
    fig, axes = outputs.plt.subplots(len(RS_HIST_LAYERS), 4, figsize=(15, 2.3 * len(RS_HIST_LAYERS)))
    for j, (inp, key) in enumerate((i, k) for i in RS_INPUTS for k in ("z", "a")):
        run = res["runs"][f"{inp}/{case}"]
        for i, layer in enumerate(RS_HIST_LAYERS):
            ax, h = axes[i, j], run["hists_seed0"][layer][key]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts, edges, fill=True, color="C0" if key == "z" else "C1")
            ax.set_yticks([])
            ax.locator_params(axis="x", nbins=4)
            ax.tick_params(labelsize=7)
            row = run["seed0"][layer - 1]
            ax.text(0.98, 0.95, f"E[{key}²] {row['E' + key + '2']:.3g}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=7)
            if i == 0:
                ax.set_title(f"{key} ({'pre-activation' if key == 'z' else 'activation'}), {inp} input", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=9)
    s = res["settings"]
    fig.suptitle(f"relu-spread {case}: histograms at layers {', '.join(map(str, RS_HIST_LAYERS))}; width "
                 f"{s['width']}, Gaussian input {s['gaussian_input'][0]}×{s['gaussian_input'][1]} and "
                 f"{s['mnist_input'][0]} MNIST images (range ±4 RMS of each panel)", fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.92, bottom=0.05, hspace=0.3, wspace=0.08)
    outputs.save_figure(fig, path)


def _rs_lines(ax, res, key, theory_key=None, band=True):
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for c, case in enumerate(RS_CASES):
        for inp, style in zip(RS_INPUTS, ("-", "--")):
            run = res["runs"][f"{inp}/{case}"]
            m, sd = np.asarray(run["mean_over_seeds"][key]), np.asarray(run["sd_over_seeds"][key])
            ax.plot(layers, m, style, color=f"C{c}", marker="o", markersize=3, label=f"{case}, {inp}")
            if band:   # ± SD as a factor 1 + SD/mean, so that the band fits a log axis
                ax.fill_between(layers, m / (1 + sd / m), m * (1 + sd / m), color=f"C{c}", alpha=0.15, linewidth=0)
            if theory_key:
                ax.plot(layers, run["theory"][theory_key], ":", color="k", linewidth=1.0)
    ax.set_xlabel("layer")
    ax.grid(True, which="both", alpha=0.3)


def plot_relu_spread_ex2(res, path):
    fig, (ax, ax2) = outputs.plt.subplots(1, 2, figsize=(14, 5))
    _rs_lines(ax, res, "Ea2", "Ea2")
    ax.set_yscale("log")
    ax.set_ylabel("E[a²] (log)")
    ax.set_title("E[a²] per layer: A and C flat, B halves. Dotted: mean field. Band: ± SD over seeds", fontsize=9)
    ax.legend(fontsize=7)
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for c, case in enumerate(RS_CASES):
        for inp, style in zip(RS_INPUTS, ("-", "--")):
            ax2.plot(layers, res["runs"][f"{inp}/{case}"]["Ea2_measured_over_theory"], style, color=f"C{c}",
                     marker="o", markersize=3)
    ax2.axhline(1, color="k", linewidth=0.7)
    ax2.set_xlabel("layer")
    ax2.set_ylabel("measured / mean field (mean over seeds)")
    ax2.set_title("measured / mean field: 1 in expectation, the scatter of a few nets grows like √(layer/width).\n"
                  "B coincides with C (same draws, ReLU is positively homogeneous)", fontsize=9)
    ax2.grid(True, alpha=0.3)
    fig.suptitle(f"relu-spread relu_spread_check_ex2: mean ± SD over {len(res['settings']['seeds'])} seeds, "
                 f"width {res['settings']['width']}; solid Gaussian input, dashed MNIST", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    outputs.save_figure(fig, path)


def plot_relu_spread_ratio(res, path):
    fig, ax = outputs.plt.subplots(figsize=(9, 5))
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for c, case in enumerate(list(RS_CASES)[1:], start=1):
        for inp, style in zip(RS_INPUTS, ("-", "--")):
            run = res["runs"][f"{inp}/{case}"]
            ax.plot(layers, run["mean_over_seeds"]["ratio_Ea2_Ez2"], style, color=f"C{c}", marker="o",
                    markersize=3, label=f"E[a²]/E[z²], {case}, {inp}")
            ax.plot(layers, run["mean_over_seeds"]["ratio_Var"], style, color=f"C{c}", marker="x", markersize=4,
                    alpha=0.6, label=f"Var(a)/Var(z), {case}, {inp}")
    ax.axhline(0.5, color="k", linewidth=0.8, label="1/2 (E[·²] of a centred Gaussian z)")
    ax.axhline(0.5 - 0.5 / math.pi, color="k", linestyle=":", linewidth=0.8, label="1/2 − 1/(2π): Var ratio")
    ax.set_xlabel("layer")
    ax.set_ylabel("ratio")
    ax.set_ylim(0, 0.8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("relu_spread_check_relu_ratio: ReLU keeps 1/2 of E[z²], not of Var(z) (mean over seeds)",
                 fontsize=10)
    outputs.save_figure(fig, path)


def plot_relu_zero_fraction(res, path):
    fig, ax = outputs.plt.subplots(figsize=(9, 5))
    layers = np.arange(1, res["settings"]["depth"] + 1)
    for inp, style in zip(RS_INPUTS, ("-", "--")):
        run = res["runs"][f"{inp}/C) He + ReLU"]
        ax.plot(layers, run["mean_over_seeds"]["frac_zero"], style, color="C2", marker="o", markersize=3,
                label=f"share of a == 0, {inp}")
        ax.plot(layers, run["mean_over_seeds"]["input_share_a"], style, color="C4", marker="x", markersize=4,
                label=f"input share of Var(a), {inp}")
    ax.axhline(0.5, color="k", linewidth=0.8)
    ax.set_xlabel("layer")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("relu_zero_fraction: B and C share their draws and ReLU is homogeneous, so their zeros coincide "
                 "(C shown).\nThe zero share stays ≈ 1/2; with MNIST input the units turn input-independent "
                 "(input share falls)", fontsize=9)
    outputs.save_figure(fig, path)
