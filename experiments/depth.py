"""Three published depth studies reproduced with their own settings, figures and numbers, and mean-field theory on them.

Run:  python -m experiments.depth                          (every study: ~45 s of CPU, --jobs spreads it)
      python -m experiments.depth --study relu-spread      (one study; --study repeats)
      python -m experiments.depth --quick                  (seconds; same files, to figures/quick/)

Studies, each a key of figures/depth.json with the published values beside ours:
  init-bench    1,000 MNIST images through 5 sigmoid layers of 100 (width unstated: its model's 100), no bias,
                W ~ N(0, 1), N(0, 0.01²), N(0, 1/n) ("Xavier") → sigmoid_activation_histograms.png
  relu-spread   20 layers, z = x·Wᵀ, no bias: A) 1/√n + identity, B) 1/√n + ReLU, C) He √(2/n) + ReLU, on Gaussian
                input (1,000 × 512, width 512) and on 1,000 MNIST images → relu_spread_hist_xavier_identity.png,
                relu_spread_hist_xavier_relu.png, relu_spread_hist_he_relu.png, relu_spread_check_ex2.png,
                relu_spread_check_relu_ratio.png, relu_zero_fraction.png
  cs231n-notes  D = randn(1000, 500), 10 layers of 500, no bias, tanh/ReLU under randn·0.01, randn·1, randn/√fan_in,
                He; per-layer mean/std over --seeds seeds beside the published tables → cs231n_layer_stats.png; the
                product of 100 random 4×4 N(0, 1) matrices and its Lyapunov exponent → matrix_product.png
  gains         the gain that keeps E[z²] constant through 50 wide layers, by bisection, beside npnet.init.calculate_gain
                (PyTorch's calculate_gain table) and the mean-field value → measured_gains.png

Every measured E[z²]-per-layer curve has the mean-field line q_l = σ_w²·E[φ(√q_{l−1} z)²] (npnet.meanfield, layer
1 from E[x²], not Var) drawn over it, and measured/theory per layer is in the JSON. Weights use npnet's layout
W (out, in) and z = x·Wᵀ (the CS231n code's X·W with W (in, out) is the same distribution). Within a study and
seed all inits share one draw of standard normals, scaled per init (common random numbers): they differ only by
what is compared. Results are identical at any --jobs (one BLAS thread per seed, float64).
"""
import json
import math

import numpy as np
from matplotlib.ticker import FuncFormatter
from scipy.special import digamma, polygamma

from npnet import init as npinit
from npnet import meanfield

from . import _common as common
from . import _plotting as plotting

STUDIES = ("init-bench", "relu-spread", "cs231n-notes", "gains")
STUDY_PART = {name: i + 1 for i, name in enumerate(STUDIES)}   # seeds each study's Generator apart


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))      # = 1/(1 + e^{−z}), without overflow warnings


def relu(z):
    return np.maximum(z, 0.0)


def leaky_relu(z, slope=0.01):
    """max(z, 0) + slope·min(z, 0), PyTorch's default slope 0.01 (only here, for the gain study)."""
    return np.where(z > 0, z, slope * z)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805   # Klambauer et al. 2017


def selu(z):
    """scale·(z if z > 0 else α(e^z − 1)) (only here, for the gain study)."""
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


ACT = {"identity": lambda z: z, "sigmoid": sigmoid, "tanh": np.tanh, "relu": relu, "leaky_relu": leaky_relu,
       "selu": selu}


def mean_sq(x):
    return float(np.mean(np.square(x)))


def input_share(a):
    """Share of the spread of a (B, m) that varies with the input: mean over units of Var over the batch / Var(a).

    The rest is spread *across units*, each of which says the same thing for every input: a histogram of all
    entries cannot tell the two apart.
    """
    total = float(a.var())
    return float(np.mean(a.var(axis=0)) / total) if total > 0 else 0.0


def layer_row(z, a):
    """The per-layer numbers every study reports, for z (B, m) and a = φ(z)."""
    ez2, ea2 = mean_sq(z), mean_sq(a)
    return {"Ez2": ez2, "Ea2": ea2, "mean_a": float(a.mean()), "std_a": float(a.std()),
            "ratio_Ea2_Ez2": ea2 / ez2 if ez2 else None,
            "ratio_Var": float(a.var() / z.var()) if z.var() > 0 else None,
            "frac_zero": float(np.mean(a == 0)), "input_share_a": input_share(a)}


def forward(x, weights, scales, f, hist_at=(), hist_range=None, bins=30):
    """z_l = x_{l−1}·(s_l W_l)ᵀ, x_l = f(z_l) through every layer; per-layer rows, and histograms at ``hist_at``.

    ``hist_range``: fixed (lo, hi), or None for ±4 RMS of each tensor.
    """
    rows, hists = [], {}
    with np.errstate(over="ignore", under="ignore"):
        for layer, (W, s) in enumerate(zip(weights, scales), start=1):
            z = (x @ W.T) * s
            a = f(z)
            rows.append(layer_row(z, a))
            if layer in hist_at:
                hists[layer] = {}
                for key, v in (("z", z), ("a", a)):
                    lim = hist_range or (-4 * math.sqrt(mean_sq(v)) or -1.0, 4 * math.sqrt(mean_sq(v)) or 1.0)
                    counts, edges = np.histogram(v, bins=bins, range=lim)
                    hists[layer][key] = {"counts": counts.tolist(), "edges": edges.tolist()}
            x = a
    return rows, hists


def over_seeds(runs, key):
    """Per-layer mean and SD over seeds of ``key`` from a list of per-seed row lists."""
    v = np.array([[r[key] for r in rows] for rows in runs], dtype=float)
    return v.mean(axis=0), (v.std(axis=0, ddof=1) if len(v) > 1 else np.zeros(v.shape[1]))


def theory_rows(q, name):
    """Mean-field E[z²], E[a²], mean and SD of a for each layer's q."""
    f = ACT[name]
    ea2 = meanfield.expect(lambda u: f(u) ** 2, q)
    ea = meanfield.expect(f, q)
    return {"Ez2": q.tolist(), "Ea2": ea2.tolist(), "mean_a": ea.tolist(),
            "std_a": np.sqrt(np.maximum(ea2 - ea ** 2, 0.0)).tolist()}


def versus_theory(mean_ez2, theory_ez2):
    return (np.asarray(mean_ez2) / np.asarray(theory_ez2)).tolist()


def rng_for(seed, study):
    return common.rng_for(seed, STUDY_PART[study])


# ---------------------------------------------------------------- init-bench: sigmoid histograms (000 §図4)
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


def init_bench(X, seeds, jobs, progress):
    runs = common.parallel_map(init_bench_run, [(s, X) for s in seeds], jobs)
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


def plot_init_bench(res, path):
    inits = res["inits"]
    n_seeds = len(res["settings"]["seeds"])
    fig, axes = common.plt.subplots(len(inits), IB_LAYERS + 1, figsize=(18, 8))
    for i, (label, r) in enumerate(inits.items()):
        mean_share = r["mean_over_seeds"]["input_share_a"]
        for j in range(IB_LAYERS):
            ax, h = axes[i, j], r["hists_seed0"][j + 1]["a"]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts / counts.sum(), edges, fill=True, color=f"C{i}")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.5 * (counts / counts.sum()).max())       # room for the numbers above the bars
            ax.yaxis.set_major_locator(common.plt.MaxNLocator(3))
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
    common.save_figure(fig, path)


#: the three inits in words
IB_WORDS = {"std=1": "W ~ N(0, 1)", "std=0.01": "W ~ N(0, 0.01²)", "xavier(1/sqrt(n))": "Xavier, W ~ N(0, 1/n)"}


# ---------------------------------------------------------------- relu-spread: 20 layers A/B/C (001)
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


def relu_spread(X_mnist, n_gauss, width, depth, seeds, jobs, progress):
    tasks = [(s, X_mnist, n_gauss, width, depth, i == 0) for i, s in enumerate(seeds)]
    runs = common.parallel_map(relu_spread_run, tasks, jobs)
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
    fig, axes = common.plt.subplots(len(RS_HIST_LAYERS), 4, figsize=(15, 2.5 * len(RS_HIST_LAYERS)), sharex=True)
    for j, (inp, key) in enumerate((i, k) for i in RS_INPUTS for k in ("z", "a")):
        run = res["runs"][f"{inp}/{case}"]
        color = "C0" if key == "z" else "C1"
        for i, layer in enumerate(RS_HIST_LAYERS):
            ax, h = axes[i, j], run["hists_seed0"][layer][key]
            counts, edges = np.asarray(h["counts"], dtype=float), np.asarray(h["edges"])
            share = counts / counts.sum()
            ax.set_xlim(-reach, reach)
            ax.set_ylim(0, 1.15 * share.max())
            ax.yaxis.set_major_locator(common.plt.MaxNLocator(3))
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
    fig.suptitle(f"relu-spread {case}: histograms at layers {', '.join(map(str, RS_HIST_LAYERS))} (seed 0; "
                 f"{len(runs[0]['hists_seed0'][RS_HIST_LAYERS[0]]['z']['counts'])} bins over ±4 RMS of each panel); width {s['width']}, Gaussian input {s['gaussian_input'][0]}×"
                 f"{s['gaussian_input'][1]} and {s['mnist_input'][0]} MNIST images.\nOne x range for every panel: "
                 "a distribution that shrinks with depth narrows to a spike (insets: its shape, magnified)",
                 fontsize=10)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.06, hspace=0.3, wspace=0.15)
    common.save_figure(fig, path)


#: how each relu-spread case is drawn: B and C are one net up to a scale (same draws, ReLU positively homogeneous),
#: so wherever their curves coincide B is drawn wide and pale under C, and both stay visible (A, level with C on
#: E[a²], likewise a little wider)
RS_DRAW = {"A) Xavier + Identity": dict(color="C0", linewidth=3.5, alpha=0.5, zorder=2.5),
           "B) Xavier + ReLU": dict(color="C1", linewidth=5, alpha=0.35, zorder=2),
           "C) He + ReLU": dict(color="C2", linewidth=1.5, zorder=3)}
RS_INPUT_STYLE = {"gaussian": "-", "mnist": (0, (6, 2, 1, 2))}         # MNIST dash-dot (theory is dashed)
RS_INPUT_WORDS = {"gaussian": "Gaussian input", "mnist": "MNIST input"}


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


def plot_relu_spread_ex2(res, path):
    n_seeds = len(res["settings"]["seeds"])
    fig, (ax, ax2) = common.plt.subplots(2, 1, figsize=(10, 8.5), sharex=True)
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
    common.save_figure(fig, path)


def plot_relu_spread_ratio(res, path):
    from matplotlib.lines import Line2D
    n_seeds = len(res["settings"]["seeds"])
    fig, ax = common.plt.subplots(figsize=(10, 5))
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
    inputs = [Line2D([], [], color="0.3", linestyle=RS_INPUT_STYLE[inp], label=RS_INPUT_WORDS[inp]) for inp in RS_INPUTS]
    plotting.legend_outside(ax, handles=[*cases, *inputs, *marks, *handles], handlelength=3.5)
    ax.set_title("relu-spread ratio figure reproduced: ReLU keeps 1/2 of E[z²], not of Var(z)", fontsize=10)
    common.save_figure(fig, path)


def plot_relu_zero_fraction(res, path):
    n_seeds = len(res["settings"]["seeds"])
    fig, (ax, ax2) = common.plt.subplots(1, 2, figsize=(13, 4.8))
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
    common.save_figure(fig, path)


# ---------------------------------------------------------------- cs231n-notes: 10 × 500 tables (003)
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
MP_PUBLISHED = [[4.2615e+25, -1.7832e+25, 3.8954e+25, -2.8061e+25], [1.1544e+25, -4.8303e+24, 1.0552e+25, -7.6013e+24],
                [4.5788e+25, -1.9160e+25, 4.1855e+25, -3.0151e+25], [-2.1569e+25, 9.0252e+24, -1.9716e+25, 1.4203e+25]]


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


def cs231n(n, width, depth, seeds, jobs, progress):
    runs = common.parallel_map(cs231n_run, [(s, n, width, depth) for s in seeds], jobs)
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
        res["comparisons"][f"{pub_case} vs ours {ours}"] = compare(CS_PUBLISHED[pub_case], src)
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


def compare(pub, ours):
    """Per-layer published vs our mean over seeds, in units of the seed-to-seed SD (plus 5-decimal rounding)."""
    out = {"published_std": pub["std"], "published_mean": pub["mean"], "ours_std": ours["std"],
           "ours_std_sd": ours["std_sd"], "ours_mean": ours["mean"], "ours_mean_sd": ours["mean_sd"]}
    for key in ("std", "mean"):
        dev = np.abs(np.asarray(pub[key]) - np.asarray(ours[key]))
        sd = np.asarray(ours[f"{key}_sd"])
        out[f"z_{key}"] = (dev / np.maximum(sd, 1e-300)).tolist()
        out[f"ok_{key}"] = bool(np.all(dev <= CS_MATCH_Z * sd + CS_ROUNDING))
    # the band the match rule accepts a published std in, per layer (before the rounding allowance)
    out["ours_std_lo"] = (np.asarray(ours["std"]) - CS_MATCH_Z * np.asarray(ours["std_sd"])).tolist()
    out["ours_std_hi"] = (np.asarray(ours["std"]) + CS_MATCH_Z * np.asarray(ours["std_sd"])).tolist()
    out["max_abs_z_std"] = float(max(d / max(s, 1e-300) for d, s in zip(
        np.maximum(np.abs(np.asarray(pub["std"]) - np.asarray(ours["std"])) - CS_ROUNDING, 0.0), ours["std_sd"])))
    out["match"] = out["ok_std"] and out["ok_mean"]
    return out


def lyapunov_top(n):
    """Top Lyapunov exponent of products of n×n N(0, 1) matrices: ½(ln 2 + ψ(n/2)) (Newman 1986)."""
    return 0.5 * (math.log(2.0) + float(digamma(n / 2)))


def matrix_product(seed, draws, k_max=100, n=4):
    """log‖P_k‖_F for P_k = M_0·M_1·…·M_k, M ~ N(0, 1) n×n, ``draws`` independent products (renormalized as it goes).

    Also the same product with every M scaled by 1/√n (E‖Mv‖² = ‖v‖²: "variance-preserving"), whose logarithm
    still drifts, at λ₁ − ½ ln n < 0: the typical product shrinks though its mean square is preserved.
    """
    rng = np.random.default_rng([seed, STUDY_PART["cs231n-notes"], 4])
    P = rng.standard_normal((draws, n, n))
    first_draw = {"M": P[0].tolist()}
    log_norm = np.empty((draws, k_max + 1))
    acc = np.log(np.linalg.norm(P, axis=(1, 2)))
    P /= np.exp(acc)[:, None, None]
    log_norm[:, 0] = acc
    for k in range(1, k_max + 1):
        P = P @ rng.standard_normal((draws, n, n))
        nrm = np.linalg.norm(P, axis=(1, 2))
        acc = acc + np.log(nrm)
        P /= nrm[:, None, None]
        log_norm[:, k] = acc
    first_draw["product"] = (P[0] * math.exp(acc[0])).tolist()
    lam = lyapunov_top(n)
    ks = np.arange(k_max + 1)
    mean = log_norm.mean(axis=0)
    slope = float(np.polyfit(ks[10:], mean[10:], 1)[0])
    pub_log = float(np.log(np.linalg.norm(MP_PUBLISHED)))
    log_max_entry = np.log(np.abs(P).max(axis=(1, 2))) + acc     # P is renormalized: its scale is exp(acc)
    return {"n": n, "k_max": k_max, "draws": draws, "first_draw": first_draw,
            "first_draw_norm": float(math.exp(acc[0])),
            "first_draw_max_abs_entry": float(np.abs(first_draw["product"]).max()),
            "published_norm": float(math.exp(pub_log)), "published_max_abs_entry": 4.5788e25,
            "published_percentile": float(np.mean(log_norm[:, -1] < pub_log) * 100),
            # the largest |entry| of every draw's P_k_max, as its 5 % and 95 % quantiles over the draws
            "max_abs_entry_q05": float(np.exp(np.quantile(log_max_entry, 0.05))),
            "max_abs_entry_q95": float(np.exp(np.quantile(log_max_entry, 0.95))),
            "lyapunov_top": lam, "lyapunov_scaled_1_over_sqrt_n": lam - 0.5 * math.log(n),
            "measured_slope": slope, "sd_per_sqrt_k_theory": 0.5 * math.sqrt(float(polygamma(1, n / 2))),
            "sd_at_k_max": float(log_norm[:, -1].std()),
            "log_norm_mean": mean.tolist(),
            "log_norm_q10": np.quantile(log_norm, 0.1, axis=0).tolist(),
            "log_norm_q90": np.quantile(log_norm, 0.9, axis=0).tolist(),
            "log_norm_examples": log_norm[:20].tolist()}


def plot_cs231n(res, path):
    cases = list(res["cases"])
    depth = res["settings"]["layers"]
    n_seeds = len(res["settings"]["seeds"])
    layers = np.arange(1, depth + 1)
    fig = common.plt.figure(figsize=(19, 4.2 + 1.5 * len(cases)))
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
    common.save_figure(fig, path)


def plot_matrix_product(mp, path):
    fig, ax = common.plt.subplots(figsize=(9, 5.5))
    ks = np.arange(mp["k_max"] + 1)
    for row in mp["log_norm_examples"]:
        ax.plot(ks, np.asarray(row) / math.log(10), color="C0", alpha=0.25, linewidth=0.7)
    ax.plot(ks, np.asarray(mp["log_norm_mean"]) / math.log(10), color="C0", linewidth=2,
            label=f"ours: mean over {mp['draws']} draws (10–90 % band; thin: 20 draws); slope "
                  f"{mp['measured_slope']:.3f} per matrix")
    ax.fill_between(ks, np.asarray(mp["log_norm_q10"]) / math.log(10), np.asarray(mp["log_norm_q90"]) / math.log(10),
                    color="C0", alpha=0.15)
    lam = mp["lyapunov_top"]
    offset = mp["log_norm_mean"][0]
    plotting.theory(ax, ks, (offset + lam * ks) / math.log(10),
                    label=f"theory: top Lyapunov exponent λ₁ = ½(ln 2 + ψ(2)) = {lam:.4f} per matrix")
    plotting.theory(ax, ks, (offset + mp["lyapunov_scaled_1_over_sqrt_n"] * ks) / math.log(10), linestyle=":",
                    label="theory, each M scaled by 1/√4 (mean square preserved): λ₁ − ½ln 4 = "
                          f"{mp['lyapunov_scaled_1_over_sqrt_n']:.3f}")
    plotting.published(ax, [mp["k_max"]], [math.log10(mp["published_norm"])], "cs231n-notes",
                       f"‖P‖ = {mp['published_norm']:.2g}, percentile {mp['published_percentile']:.0f} of ours",
                       color="C0")
    ax.set_xlabel("k: matrices multiplied onto the first")
    ax.set_ylabel("log₁₀ ‖M₀·M₁·…·M_k‖_F (Frobenius norm, in powers of 10)")
    ax.grid(True, alpha=0.3)
    plotting.legend_outside(ax, "below")
    ax.set_title("Product of random 4×4 N(0, 1) matrices: it explodes at the rate λ₁, and spreads like √k", fontsize=10)
    common.save_figure(fig, path)


# ---------------------------------------------------------------- gains: bisection vs npnet.init.calculate_gain
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


def gains(width, batch, depth, nets, more_q, seed, jobs, progress):
    cases = [(name, 1.0) for name in GAIN_ACTS] + [(name, q) for name in GAIN_ACTS if name not in GAIN_SCALE_FREE
                                                   for q in more_q]
    runs = common.parallel_map(gain_run, [(seed + i, width, batch, depth, cases) for i in range(nets)], jobs)
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
    fig, (ax, ax2) = common.plt.subplots(1, 2, figsize=(16, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
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
    common.save_figure(fig, path)


# ---------------------------------------------------------------- main
def settings(quick):
    if quick:
        return {"ib_images": 300, "rs_n": 100, "rs_width": 512, "rs_depth": 20, "cs_n": 100, "cs_width": 500,
                "cs_depth": 10, "mp_draws": 500, "g_width": 256, "g_batch": 8, "g_depth": 50, "g_nets": 2, "g_q": ()}
    return {"ib_images": 1000, "rs_n": 1000, "rs_width": 512, "rs_depth": 20, "cs_n": 1000, "cs_width": 500,
            "cs_depth": 10, "mp_draws": 4000, "g_width": 512, "g_batch": 16, "g_depth": 50, "g_nets": 4,
            "g_q": GAIN_Q_MORE}


def merged(path, results):
    """``results`` over what an earlier run left in ``path``: running one study keeps the others' numbers."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    studies = old.get("studies", {}) if old.get("experiment") == "depth" else {}
    return {"experiment": "depth", "studies": {**studies, **results}}


def main(argv=None):
    p = common.parser("python -m experiments.depth", __doc__.split("\n")[0], dtype=False, jobs=True, seeds=10,
                      quick_seeds=2)
    p.add_argument("--study", choices=STUDIES, action="append", help="run only this study (repeatable; "
                   "default all). depth.json keeps the other studies' keys from an earlier run")
    args, out, progress = common.start(p, argv)
    studies = list(dict.fromkeys(args.study or STUDIES))
    cfg = settings(args.quick)
    seeds = [args.seed + i for i in range(args.seeds)]
    results, tables = {}, []
    X = None
    if {"init-bench", "relu-spread"} & set(studies):
        n = max(cfg["ib_images"], cfg["rs_n"])
        data = common.load_mnist(args, n, 1)
        X = data.X_train
        progress(f"data: {data.source}; {n} images (seed {args.seed})")
    common_cfg = {"seed": args.seed, "quick": args.quick, "seeds": args.seeds}
    if "init-bench" in studies:
        res = init_bench(X[:cfg["ib_images"]], seeds, args.jobs, progress)
        results["init-bench"] = {**common_cfg, "data": data.info, **res}
        plot_init_bench(res, out / "sigmoid_activation_histograms.png")
    if "relu-spread" in studies:
        res = relu_spread(X[:cfg["rs_n"]], cfg["rs_n"], cfg["rs_width"], cfg["rs_depth"], seeds, args.jobs, progress)
        results["relu-spread"] = {**common_cfg, "data": data.info, **res}
        for case in RS_CASES:
            plot_relu_spread_hists(res, case, out / hist_file(case))
        plot_relu_spread_ex2(res, out / "relu_spread_check_ex2.png")
        plot_relu_spread_ratio(res, out / "relu_spread_check_relu_ratio.png")
        plot_relu_zero_fraction(res, out / "relu_zero_fraction.png")
    if "cs231n-notes" in studies:
        res = cs231n(cfg["cs_n"], cfg["cs_width"], cfg["cs_depth"], seeds, args.jobs, progress)
        res["matrix_product"] = matrix_product(args.seed, cfg["mp_draws"])
        mp = res["matrix_product"]
        progress(f"cs231n-notes: product of 101 4×4 N(0,1) matrices, seed {args.seed}: "
                 f"‖P‖ = {mp['first_draw_norm']:.3g}"
                 f" (published {mp['published_norm']:.3g}, percentile {mp['published_percentile']:.0f} of ours); "
                 f"slope {mp['measured_slope']:.4f} vs λ₁ {mp['lyapunov_top']:.4f}")
        results["cs231n-notes"] = {**common_cfg, **res}
        plot_cs231n(res, out / "cs231n_layer_stats.png")
        plot_matrix_product(mp, out / "matrix_product.png")
        tables.append(cs231n_table(res))
    if "gains" in studies:
        res = gains(cfg["g_width"], cfg["g_batch"], cfg["g_depth"], cfg["g_nets"], cfg["g_q"], args.seed, args.jobs,
                    progress)
        results["gains"] = {**common_cfg, **res}
        plot_gains(res, out / "measured_gains.png")
        tables.append(common.format_table(
            ["activation", "calculate_gain", "measured (q=1)", "mean field (q=1)", "kind"],
            [[n, f"{r['table']:.4f}", f"{r['measured']['1.0']:.4f}", f"{r['mean_field']['1.0']:.4f}", r["kind"]]
             for n, r in res["activations"].items()]))
    for t in tables:
        print()
        print(t)
    common.write_json(out / "depth.json", merged(out / "depth.json", results))
    progress(f"wrote {out}/depth.json ({', '.join(studies)})")


def cs231n_table(res):
    rows = []
    for name, c in res["comparisons"].items():
        for layer in range(len(c["published_std"])):
            rows.append([name if layer == 0 else "", layer + 1, f"{c['published_std'][layer]:.5f}",
                         f"{c['ours_std'][layer]:.5f} ± {c['ours_std_sd'][layer]:.5f}",
                         f"{c['published_mean'][layer]:.5f}",
                         f"{c['ours_mean'][layer]:.5f} ± {c['ours_mean_sd'][layer]:.5f}",
                         ("match" if c["match"] else "DIFFERS") if layer == 0 else ""])
    return (common.format_table(["published vs ours", "layer", "std pub.", "std ours (mean ± SD)", "mean pub.",
                                 "mean ours", "verdict"], rows) + "\n" + res["he_verdict"])


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.depth"))
