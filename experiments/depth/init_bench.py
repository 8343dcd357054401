"""init-bench, figure 4: 1,000 MNIST images through 5 sigmoid layers of 100 under three weight scales."""
import math

import numpy as np
from matplotlib.ticker import FuncFormatter

from npnet import meanfield

from .. import _outputs as outputs, _parallel as parallel
from .. import _plotting as plotting
from .forward import forward, mean_sq, over_seeds, rng_for, sigmoid, theory_rows, versus_theory


IB_WIDTH, IB_LAYERS = 100, 5
IB_INITS = {"std=1": lambda fan: 1.0, "std=0.01": lambda fan: 0.01, "xavier(1/sqrt(n))": lambda fan: 1 / math.sqrt(fan)}
IB_PUBLISHED = {"std=1": "piles up near 0 and 1 (saturated) and stays so with depth",
                "std=0.01": "concentrates at 0.5, sharper with depth",
                "xavier(1/sqrt(n))": "neither saturated nor collapsed: a moderate spread"}


def init_bench_run(task):
    seed, X = task
    rng = rng_for(seed, "init-bench")
    fans = [X.shape[1]] + [IB_WIDTH] * (IB_LAYERS - 1)
    weights = [rng.standard_normal((IB_WIDTH, fan)) for fan in fans]
    out = {}
    for label, std in IB_INITS.items():
        rows, hists = forward(X, weights, [std(fan) for fan in fans], sigmoid,
                              hist_at=range(1, IB_LAYERS + 1), hist_range=(0.0, 1.0))
        for r in rows:
            r.pop("frac_zero")
        out[label] = {"layers": rows, "hists": hists}
    return out


def sigmoid_saturated(hist):
    """Share of outputs in the two end bins of a (0, 1) histogram of 30 bins: a < 1/30 or a > 29/30."""
    counts = np.asarray(hist["counts"])
    return float((counts[0] + counts[-1]) / counts.sum())


def run(X, seeds, jobs, progress):
    runs = parallel.parallel_map(init_bench_run, [(s, X) for s in seeds], jobs)
    fans = [X.shape[1]] + [IB_WIDTH] * (IB_LAYERS - 1)
    ex2 = mean_sq(X)
    q1 = np.mean(X * X, axis=1) * X.shape[1]            # one E[z²]-per-unit-variance per image: Σ_j x_j²
    res = {"settings": {"images": len(X), "layers": IB_LAYERS, "width": IB_WIDTH,
                        "width_note": "the study does not state it; 100 as its 784-100-10 model", "bias": "none",
                        "seeds": seeds, "E_x2": ex2}, "inits": {}}
    for label, std in IB_INITS.items():
        per_seed = [run[label]["layers"] for run in runs]
        s2 = [fan * std(fan) ** 2 for fan in fans]        # σ_w² = fan_in·Var(w) per layer
        q = meanfield.q_profile(q1 * std(fans[0]) ** 2, "sigmoid", s2[1:]).mean(axis=1)
        mean_ez2, sd_ez2 = over_seeds(per_seed, "Ez2")
        first = runs[0][label]
        res["inits"][label] = {
            "published": IB_PUBLISHED[label], "layers_seed0": first["layers"], "hists_seed0": first["hists"],
            "saturated_seed0": [sigmoid_saturated(first["hists"][k]["a"]) for k in range(1, IB_LAYERS + 1)],
            "mean_over_seeds": {k: over_seeds(per_seed, k)[0].tolist()
                                for k in ("Ez2", "Ea2", "mean_a", "std_a", "input_share_a")},
            "sd_over_seeds": {"Ez2": sd_ez2.tolist()},
            "theory": theory_rows(q, "sigmoid"), "Ez2_measured_over_theory": versus_theory(mean_ez2, q)}
        means = res["inits"][label]["mean_over_seeds"]
        progress(f"init-bench: {label:18s} std of a by layer " + " ".join(f"{v:.3f}" for v in means["std_a"])
                 + ", input share " + " ".join(f"{v:.2g}" for v in means["input_share_a"]))
    res["verdict"] = init_bench_verdict(res["inits"])
    return res


def init_bench_verdict(inits):
    big, small, xav = inits["std=1"], inits["std=0.01"], inits["xavier(1/sqrt(n))"]
    return {
        "std=1 saturates": min(big["saturated_seed0"]) > 0.5,
        "std=0.01 collapses onto 0.5": max(small["mean_over_seeds"]["std_a"][1:]) < 0.02,
        "xavier spread is mostly across units, not inputs": xav["mean_over_seeds"]["input_share_a"][-1] < 0.1,
        "note": "the Xavier row looks healthy, but by layer 5 most of its spread is between units (each unit "
                "nearly constant over the images): σ(0) = 1/2 feeds every unit a constant and σ' ≤ 1/4 shrinks "
                "the input-dependent part; the histogram cannot show that, the input share does"}


#: the three inits in words
IB_WORDS = {"std=1": "W ~ N(0, 1)", "std=0.01": "W ~ N(0, 0.01²)", "xavier(1/sqrt(n))": "Xavier, W ~ N(0, 1/n)"}


def plot_init_bench(res, path):
    inits = res["inits"]
    n_seeds = len(res["settings"]["seeds"])
    fig, axes = outputs.plt.subplots(len(inits), IB_LAYERS + 1, figsize=(18, 8))
    for i, (label, r) in enumerate(inits.items()):
        mean_share = r["mean_over_seeds"]["input_share_a"]
        for j in range(IB_LAYERS):
            ax, h = axes[i, j], r["hists_seed0"][j + 1]["a"]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts / counts.sum(), edges, fill=True, color=f"C{i}")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.5 * (counts / counts.sum()).max())       # room for the numbers above the bars
            ax.yaxis.set_major_locator(outputs.plt.MaxNLocator(3))
            ax.tick_params(labelsize=7)
            row = r["layers_seed0"][j]
            ax.text(0.5, 0.97, f"seed 0: std {row['std_a']:.3f}, input share {row['input_share_a']:.2g}\n"
                    f"a < 1/30 or > 29/30: {r['saturated_seed0'][j]:.0%}\n"
                    f"mean of {n_seeds} seeds: input share {mean_share[j]:.2g}",
                    transform=ax.transAxes, va="top", ha="center", fontsize=6.5,
                    bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1))
            plotting.label_panel(ax, i, j, len(inits), title=f"layer {j + 1}", xlabel="activation a = σ(z)",
                                 ylabel=f"{IB_WORDS[label]}\nshare of outputs per bin")
        ax = axes[i, -1]
        layers = np.arange(1, IB_LAYERS + 1)
        ax.plot(layers, r["mean_over_seeds"]["Ez2"], "o", color=f"C{i}", label=f"measured, mean of {n_seeds} seeds")
        plotting.theory(ax, layers, r["theory"]["Ez2"])
        ax.set_yscale("log")
        short = FuncFormatter(lambda v, _: f"{v:.3g}")          # within one decade: plain numbers, not 2.5×10⁻¹
        ax.yaxis.set_major_formatter(short)
        ax.yaxis.set_minor_formatter(short)
        ax.yaxis.tick_right()
        ax.yaxis.set_label_position("right")
        ax.set_ylabel("E[z²] (log scale)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks(layers)
        ax.set_xlabel("layer", fontsize=8)
        ax.set_title("E[z²] per layer" if i == 0 else "", fontsize=9)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"init-bench figure 4 reproduced: {res['settings']['images']} MNIST images, {IB_LAYERS} sigmoid "
                 f"layers of {IB_WIDTH} (width assumed), no bias. Histograms: seed 0. 'input share' = part of each "
                 "histogram's variance that varies with the image\n(the rest is spread between units, each nearly "
                 "constant): Xavier's spread is not information. Right: E[z²] (mean of "
                 f"{n_seeds} seeds) and the mean-field line",
                 fontsize=9)
    fig.subplots_adjust(left=0.05, right=0.95, top=0.88, bottom=0.07, hspace=0.35, wspace=0.15)
    outputs.save_figure(fig, path)
