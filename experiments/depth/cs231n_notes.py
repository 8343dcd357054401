"""cs231n-notes: D = randn(1000, 500) through 10 tanh/ReLU layers of 500, beside the notes' printed tables."""
import math

import numpy as np

from npnet import meanfield

from .. import _console as console, _outputs as outputs, _parallel as parallel
from .. import _plotting as plotting
from .._compare import layers_against_seeds
from .forward import ACT, forward, mean_sq, over_seeds, rng_for, theory_rows, versus_theory


CS_CASES = {"0.01·tanh": ("tanh", lambda n: 0.01), "1.0·tanh": ("tanh", lambda n: 1.0),
            "Xavier·tanh": ("tanh", lambda n: 1 / math.sqrt(n)), "Xavier·ReLU": ("relu", lambda n: 1 / math.sqrt(n)),
            "He√(2/n)·ReLU": ("relu", lambda n: math.sqrt(2 / n))}
CS_SNIPPET_HE = "He as printed (randn/√fan_in)·ReLU"   # the snippet's code: identical to Xavier·ReLU
CS_PUBLISHED = {   # 003, the printed tables: input (mean, std), then per hidden layer 1 → 10 (mean, std)
    "0.01·tanh": {"input": (0.00072, 0.99878),
                  "mean": [0.00010, -0.00002, -0.00001, 0.0, -0.0, 0.0, 0.0, 0.0, 0.0, -0.0],
                  "std": [0.21314, 0.04746, 0.01053, 0.00234, 0.00052, 0.00012, 0.00003, 0.00001, 0.0, 0.0]},
    "1.0·tanh": {"input": (-0.00158, 0.99979),
                 "mean": [0.00080, 0.00025, -0.00178, -0.00289, 0.00072, 0.00157, -0.00018, 0.00061, 0.00049, 0.00054],
                 "std": [0.98212, 0.98174, 0.98169, 0.98170, 0.98172, 0.98175, 0.98191, 0.98156, 0.98156, 0.98153]},
    "Xavier·tanh": {"input": (0.00029, 0.99883),
                    "mean": [-0.00130, -0.00021, 0.00037, -0.00053, 0.00051, 0.00014, -0.00017, 0.00093, -0.00015,
                             0.00012],
                    "std": [0.62751, 0.48695, 0.40813, 0.35797, 0.32023, 0.29264, 0.27133, 0.25339, 0.23924, 0.22615]},
    "Xavier·ReLU": {"input": (0.00116, 0.99877),
                    "mean": [0.39760, 0.29851, 0.21297, 0.16434, 0.10390, 0.07563, 0.05533, 0.04175, 0.02895, 0.01876],
                    "std": [0.58348, 0.42625, 0.30635, 0.23351, 0.15980, 0.11001, 0.07977, 0.05965, 0.04146, 0.02879]},
    "He (as published)·ReLU": {"input": (0.00044, 1.00103),
                               "mean": [0.56302, 0.54113, 0.55475, 0.58443, 0.58926, 0.61146, 0.58671, 0.61084,
                                        0.55894, 0.64876],
                               "std": [0.82658, 0.81089, 0.82147, 0.83353, 0.85054, 0.89148, 0.88133, 0.90233,
                                       0.85416, 0.88908]},
}
CS_ROUNDING = 0.5e-5          # the tables print 5 decimals
CS_MATCH_Z = 4.0   # "within seed scatter": |published − our mean| ≤ 4 SD over seeds + rounding; ≈ a 5 % test after
                   # Bonferroni over a table's 20 numbers with the t distribution of 9 df (10 seeds)


def cs231n_run(task):
    seed, n, width, depth = task
    rng = rng_for(seed, "cs231n-notes")
    D = rng.standard_normal((n, width))
    weights = [rng.standard_normal((width, width)) for _ in range(depth)]
    out = {"input": (float(D.mean()), float(D.std())), "E_x2": mean_sq(D)}
    for case, (act, scale) in CS_CASES.items():
        rows, hists = forward(D, weights, [scale(width)] * depth, ACT[act], hist_at=range(1, depth + 1),
                              hist_range=(-1.0, 1.0), bins=30)     # the study's plt.hist(H.ravel(), 30, range=(-1,1))
        out[case] = {"layers": rows, "hists": {k: v["a"] for k, v in hists.items()}}
    return out


def run(n, width, depth, seeds, jobs, progress):
    runs = parallel.parallel_map(cs231n_run, [(s, n, width, depth) for s in seeds], jobs)
    res = {"settings": {"D": [n, width], "layers": depth, "width": width, "bias": "none", "seeds": seeds,
                        "match_rule": f"|published − mean over seeds| ≤ {CS_MATCH_Z}·SD over seeds + {CS_ROUNDING} "
                                      "(5-decimal rounding)"},
           "input_over_seeds": {"mean": float(np.mean([r["input"][0] for r in runs])),
                                "std": float(np.mean([r["input"][1] for r in runs]))}, "cases": {}}
    for case, (act, scale) in CS_CASES.items():
        per_seed = [run[case]["layers"] for run in runs]
        s2 = width * scale(width) ** 2                  # σ_w²; q₁ = σ_w²·E[x²] with randn's E[x²] = 1
        q = meanfield.q_profile(s2, act, [s2] * (depth - 1))
        stats = {k: over_seeds(per_seed, k) for k in ("mean_a", "std_a", "Ez2")}
        res["cases"][case] = {"activation": act, "sigma_w2": s2,
                              "mean": stats["mean_a"][0].tolist(), "mean_sd": stats["mean_a"][1].tolist(),
                              "std": stats["std_a"][0].tolist(), "std_sd": stats["std_a"][1].tolist(),
                              "Ez2": stats["Ez2"][0].tolist(), "theory": theory_rows(q, act),
                              "Ez2_measured_over_theory": versus_theory(stats["Ez2"][0], q),
                              "hists_seed0": runs[0][case]["hists"]}
    res["comparisons"] = {}
    for pub_case, ours in (("0.01·tanh", "0.01·tanh"), ("1.0·tanh", "1.0·tanh"), ("Xavier·tanh", "Xavier·tanh"),
                           ("Xavier·ReLU", "Xavier·ReLU"), ("He (as published)·ReLU", "He√(2/n)·ReLU"),
                           ("He (as published)·ReLU", CS_SNIPPET_HE)):
        src = res["cases"]["Xavier·ReLU" if ours == CS_SNIPPET_HE else ours]
        res["comparisons"][f"{pub_case} vs ours {ours}"] = layers_against_seeds(
            CS_PUBLISHED[pub_case], src, CS_MATCH_Z, CS_ROUNDING)
    he_fit = res["comparisons"]["He (as published)·ReLU vs ours He√(2/n)·ReLU"]
    snippet_fit = res["comparisons"][f"He (as published)·ReLU vs ours {CS_SNIPPET_HE}"]
    res["he_verdict"] = (f"the published He table fits √(2/n) (max |z| {he_fit['max_abs_z_std']:.1f}) and not its own "
                         f"snippet randn/√fan_in (max |z| {snippet_fit['max_abs_z_std']:.0f}): it ran √(2/n)"
                         if he_fit["match"] and not snippet_fit["match"] else
                         "the published He table fits neither as expected: see the comparisons")
    if len(seeds) < 10:
        res["he_verdict"] += f" (only {len(seeds)} seeds: their SD is too rough for verdicts)"
    for name, c in res["comparisons"].items():
        progress(f"cs231n-notes: {name:48s} {'matches' if c['match'] else 'DIFFERS'} "
                 f"(max |z| of std {c['max_abs_z_std']:.2g})")
    return res


def plot_cs231n(res, path):
    cases = list(res["cases"])
    depth = res["settings"]["layers"]
    n_seeds = len(res["settings"]["seeds"])
    layers = np.arange(1, depth + 1)
    fig = outputs.plt.figure(figsize=(19, 4.2 + 1.5 * len(cases)))
    grid = fig.add_gridspec(1 + len(cases), depth, height_ratios=[2.6] + [1] * len(cases))
    top = [fig.add_subplot(grid[0, a:b]) for a, b in ((0, 3), (4, 7), (8, 10))]
    pub_for = {"0.01·tanh": "0.01·tanh", "1.0·tanh": "1.0·tanh", "Xavier·tanh": "Xavier·tanh",
               "Xavier·ReLU": "Xavier·ReLU", "He√(2/n)·ReLU": "He (as published)·ReLU"}
    small = dict(markersize=9)
    for c, case in enumerate(cases):
        r = res["cases"][case]
        pub = CS_PUBLISHED[pub_for[case]]
        top[0].errorbar(layers, r["mean"], yerr=r["mean_sd"], fmt="o-", color=f"C{c}", markersize=3,
                        label=f"{case} (ours, mean ± SD of {n_seeds} seeds)")
        plotting.published(top[0], layers, pub["mean"], "cs231n-notes tables", color=f"C{c}", **small)
        top[1].errorbar(layers, r["std"], yerr=r["std_sd"], fmt="o-", color=f"C{c}", markersize=3)
        plotting.published(top[1], layers, np.maximum(pub["std"], 1e-6), "cs231n-notes tables", color=f"C{c}",
                           **small)
        plotting.theory(top[1], layers, r["theory"]["std_a"])
        top[2].plot(layers, r["Ez2"], "o", color=f"C{c}", markersize=4)
        plotting.theory(top[2], layers, r["theory"]["Ez2"])
    top[0].set_title("layer mean. The snippet's 'He' (randn/√fan_in) is Xavier·ReLU, the red line", fontsize=9)
    top[0].set_ylabel("mean of the layer's activations")
    plotting.log_axis(top[1], "y", "std of the layer's activations")
    top[1].set_title("layer std (published zeros drawn at 1e-6)", fontsize=9)
    plotting.log_axis(top[2], "y", "E[z²]")
    top[2].set_title(f"E[z²] per layer: measured (dots, mean of {n_seeds} seeds)", fontsize=9)
    for ax in top:
        ax.set_xlabel("hidden layer")
        plotting.integer_ticks(ax)
        ax.grid(True, which="both", alpha=0.3)
    handles = [h if not h.get_label().startswith("published") else
               plotting.published_key("cs231n-notes tables", "star filled in the colour of its case")
               for h in top[0].get_legend_handles_labels()[0]] + [plotting.theory_key()]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.935), ncol=4, fontsize=8, frameon=False)
    for i, case in enumerate(cases):
        for j in range(depth):
            ax = fig.add_subplot(grid[1 + i, j])
            h = res["cases"][case]["hists_seed0"][j + 1]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts, edges, fill=True, color=f"C{i}")
            ax.set_yticks([])
            ax.set_xticks([-1, 0, 1] if i == len(cases) - 1 else [])
            ax.tick_params(labelsize=6)
            plotting.label_panel(ax, i, j, len(cases), title=f"layer {j + 1}", ylabel=f"{case}\ncount per bin",
                                 xlabel="activation", fontsize=7)
    s = res["settings"]
    fig.suptitle(f"cs231n-notes reproduced: D = randn({s['D'][0]}, {s['D'][1]}), {depth} layers of {s['width']}, no "
                 f"bias, {n_seeds} seeds. {res['he_verdict']}.\nHistograms: seed {s['seeds'][0]}, the "
                 "study's plt.hist(H.ravel(), 30, range=(-1, 1))", fontsize=9)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.86, bottom=0.05, hspace=0.6, wspace=0.15)
    outputs.save_figure(fig, path)


def cs231n_table(res):
    rows = []
    for name, c in res["comparisons"].items():
        for layer in range(len(c["published_std"])):
            rows.append([name if layer == 0 else "", layer + 1, f"{c['published_std'][layer]:.5f}",
                         f"{c['ours_std'][layer]:.5f} ± {c['ours_std_sd'][layer]:.5f}",
                         f"{c['published_mean'][layer]:.5f}",
                         f"{c['ours_mean'][layer]:.5f} ± {c['ours_mean_sd'][layer]:.5f}",
                         ("match" if c["match"] else "DIFFERS") if layer == 0 else ""])
    return (console.format_table(["published vs ours", "layer", "std pub.", "std ours (mean ± SD)", "mean pub.",
                                  "mean ours", "verdict"], rows) + "\n" + res["he_verdict"])
