"""Three published depth studies reproduced with their own settings, figures and numbers, and mean-field theory on them.

Run:  python -m experiments.depth                          (every study: ~45 s of CPU, --jobs spreads it)
      python -m experiments.depth --study relu-spread      (one study; --study repeats)
      python -m experiments.depth --quick                  (seconds; same files, to figures/quick/)

Studies (docs/STUDIES.md: init-bench's figure 4, relu-spread, cs231n-notes), each a key of figures/depth.json with the published values beside ours:
  init-bench    1,000 MNIST images through 5 sigmoid layers of 100 (width unstated: its model's 100), no bias,
                W ~ N(0, 1), N(0, 0.01²), N(0, 1/n) ("Xavier") → sigmoid_activation_histograms.png
  relu-spread   20 layers, z = x·Wᵀ, no bias: A) 1/√n + identity, B) 1/√n + ReLU, C) He √(2/n) + ReLU, on Gaussian
                input (1,000 × 512, width 512) and on 1,000 MNIST images → hist_A)_Xavier_+_Identity.png,
                hist_B)_Xavier_+_ReLU.png, hist_C)_He_+_ReLU.png, relu_spread_check_ex2.png,
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
from scipy.special import digamma, polygamma

from npnet import init as npinit
from npnet import meanfield

from . import _common as common

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
    fig, axes = common.plt.subplots(len(inits), IB_LAYERS + 1, figsize=(17, 7.5))
    for i, (label, r) in enumerate(inits.items()):
        for j in range(IB_LAYERS):
            ax, h = axes[i, j], r["hists_seed0"][j + 1]["a"]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts, edges, fill=True, color=f"C{i}")
            ax.set_yticks([])
            ax.set_xlim(0, 1)
            row = r["layers_seed0"][j]
            ax.text(0.02, 0.97, f"std {row['std_a']:.3f}\ninput share {row['input_share_a']:.2g}\n"
                    f"a<1/30 or >29/30: {r['saturated_seed0'][j]:.0%}", transform=ax.transAxes, va="top", fontsize=7)
            if i == 0:
                ax.set_title(f"{j + 1}-layer", fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
        ax = axes[i, -1]
        layers = np.arange(1, IB_LAYERS + 1)
        ax.semilogy(layers, r["mean_over_seeds"]["Ez2"], "o", color=f"C{i}", label="measured")
        ax.semilogy(layers, r["theory"]["Ez2"], "k-", linewidth=0.8, label="mean field")
        ax.set_xticks(layers)
        ax.set_title("E[z²] per layer" if i == 0 else "", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"init-bench figure 4 reproduced: {res['settings']['images']} MNIST images, {IB_LAYERS} sigmoid "
                 f"layers of {IB_WIDTH} (width assumed), no bias. 'input share' = part of each histogram's variance "
                 "that varies with the image\n(the rest is spread between units, each nearly constant): Xavier's "
                 f"spread is not information. Right: E[z²] (mean of {len(res['settings']['seeds'])} seeds) and the "
                 "mean-field line",
                 fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.88, bottom=0.04, hspace=0.25, wspace=0.12)
    common.save_figure(fig, path)


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


def hist_file(case):
    return f"hist_{case.replace(' ', '_')}.png"       # the study's own names, e.g. hist_A)_Xavier_+_Identity.png


def plot_relu_spread_hists(res, case, path):
    fig, axes = common.plt.subplots(len(RS_HIST_LAYERS), 4, figsize=(15, 2.3 * len(RS_HIST_LAYERS)))
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
    common.save_figure(fig, path)


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
    fig, (ax, ax2) = common.plt.subplots(1, 2, figsize=(14, 5))
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
    common.save_figure(fig, path)


def plot_relu_spread_ratio(res, path):
    fig, ax = common.plt.subplots(figsize=(9, 5))
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
    common.save_figure(fig, path)


def plot_relu_zero_fraction(res, path):
    fig, ax = common.plt.subplots(figsize=(9, 5))
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
    layers = np.arange(1, depth + 1)
    fig = common.plt.figure(figsize=(19, 3.6 + 1.5 * len(cases)))
    grid = fig.add_gridspec(1 + len(cases), depth, height_ratios=[2.6] + [1] * len(cases))
    top = [fig.add_subplot(grid[0, a:b]) for a, b in ((0, 3), (3, 6), (7, 10))]
    pub_for = {"0.01·tanh": "0.01·tanh", "1.0·tanh": "1.0·tanh", "Xavier·tanh": "Xavier·tanh",
               "Xavier·ReLU": "Xavier·ReLU", "He√(2/n)·ReLU": "He (as published)·ReLU"}
    for c, case in enumerate(cases):
        r = res["cases"][case]
        pub = CS_PUBLISHED[pub_for[case]]
        top[0].errorbar(layers, r["mean"], yerr=r["mean_sd"], fmt="o-", color=f"C{c}", markersize=3, label=case)
        top[0].plot(layers, pub["mean"], "x", color=f"C{c}", markersize=7)
        top[1].errorbar(layers, r["std"], yerr=r["std_sd"], fmt="o-", color=f"C{c}", markersize=3, label=case)
        top[1].plot(layers, np.maximum(pub["std"], 1e-6), "x", color=f"C{c}", markersize=7)
        top[1].plot(layers, r["theory"]["std_a"], ":", color="k", linewidth=0.8)
        top[2].plot(layers, r["Ez2"], "o", color=f"C{c}", markersize=4, label=case)
        top[2].plot(layers, r["theory"]["Ez2"], "-", color="k", linewidth=0.8)
    top[0].set_title("layer mean: ours (mean ± SD over seeds), × published. The snippet's 'He'\n"
                     "(randn/√fan_in) is Xavier·ReLU, the red line", fontsize=9)
    top[1].set_yscale("log")
    top[1].set_title("layer std (log): ours ± SD, × published, dotted mean field\n(published zeros drawn at 1e-6)",
                     fontsize=9)
    top[2].set_yscale("log")
    top[2].set_title("E[z²] per layer: measured (o) and mean field (line)", fontsize=9)
    top[0].legend(fontsize=7)
    for ax in top:
        ax.set_xlabel("hidden layer")
        ax.grid(True, which="both", alpha=0.3)
    for i, case in enumerate(cases):
        for j in range(depth):
            ax = fig.add_subplot(grid[1 + i, j])
            h = res["cases"][case]["hists_seed0"][j + 1]
            counts, edges = np.asarray(h["counts"]), np.asarray(h["edges"])
            ax.stairs(counts, edges, fill=True, color=f"C{i}")
            ax.set_yticks([])
            ax.set_xticks([-1, 0, 1] if i == len(cases) - 1 else [])
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel(case, fontsize=8)
            if i == 0:
                ax.set_title(f"layer {j + 1}", fontsize=8)
    s = res["settings"]
    fig.suptitle(f"cs231n-notes reproduced: D = randn({s['D'][0]}, {s['D'][1]}), {depth} layers of {s['width']}, no "
                 f"bias, {len(s['seeds'])} seeds. {res['he_verdict']}.\nHistograms: seed {s['seeds'][0]}, the "
                 "study's plt.hist(H.ravel(), 30, range=(-1, 1))", fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.91, bottom=0.03, hspace=0.6, wspace=0.15)
    common.save_figure(fig, path)


def plot_matrix_product(mp, path):
    fig, ax = common.plt.subplots(figsize=(9, 5.5))
    ks = np.arange(mp["k_max"] + 1)
    for row in mp["log_norm_examples"]:
        ax.plot(ks, np.asarray(row) / math.log(10), color="C0", alpha=0.25, linewidth=0.7)
    ax.plot(ks, np.asarray(mp["log_norm_mean"]) / math.log(10), color="C0", linewidth=2,
            label=f"mean over {mp['draws']} draws (10–90 % band); measured slope {mp['measured_slope']:.3f}/step")
    ax.fill_between(ks, np.asarray(mp["log_norm_q10"]) / math.log(10), np.asarray(mp["log_norm_q90"]) / math.log(10),
                    color="C0", alpha=0.15)
    lam = mp["lyapunov_top"]
    offset = mp["log_norm_mean"][0]
    ax.plot(ks, (offset + lam * ks) / math.log(10), "k--",
            label=f"top Lyapunov exponent λ₁ = ½(ln 2 + ψ(2)) = {lam:.4f} per matrix")
    ax.plot(ks, (offset + mp["lyapunov_scaled_1_over_sqrt_n"] * ks) / math.log(10), "k:",
            label="each M scaled by 1/√4 (mean square preserved): λ₁ − ½ln 4 = "
                  f"{mp['lyapunov_scaled_1_over_sqrt_n']:.3f}")
    ax.plot([mp["k_max"]], [math.log10(mp["published_norm"])], "r*", markersize=12,
            label=f"published (cs231n-notes): ‖P‖ = {mp['published_norm']:.2g}, "
                  f"percentile {mp['published_percentile']:.0f}")
    ax.set_xlabel("k: matrices multiplied onto the first")
    ax.set_ylabel("log₁₀ ‖M₀·M₁·…·M_k‖_F")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
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
    fig, (ax, ax2) = common.plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [1.6, 1]})
    for c, (name, r) in enumerate(res["activations"].items()):
        curve = r["mean_field_curve"]
        ax.semilogx(curve["q"], curve["gain"], "-", color=f"C{c}", label=f"{name}: mean field")
        ax.axhline(r["table"], color=f"C{c}", linestyle="--", linewidth=0.8)
        ax.errorbar([float(q) for q in r["measured"]], list(r["measured"].values()),
                    yerr=[v or 0.0 for v in r["measured_sd_over_nets"].values()], fmt="o", color=f"C{c}", markersize=7)
    ax.set_xlabel("q = E[z²] to be kept")
    ax.set_ylabel("gain g, W ~ N(0, g²/fan_in)")
    ax.set_title("Gain that keeps E[z²] = q: lines mean field, dots bisection through "
                 f"{res['settings']['layers']} layers of {res['settings']['width']}, dashed the calculate_gain table",
                 fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    names = list(res["activations"])
    x = np.arange(len(names))
    ax2.bar(x - 0.2, [res["activations"][n]["table"] for n in names], 0.4, label="npnet.init.calculate_gain (PyTorch table)")
    ax2.bar(x + 0.2, [res["activations"][n]["measured"]["1.0"] for n in names], 0.4, label="measured at q = 1")
    for i, n in enumerate(names):
        ax2.text(i, 0.05, "preserving" if res["activations"][n]["variance_preserving"] else "heuristic",
                 rotation=90, ha="center", va="bottom", fontsize=8, color="w")
    ax2.set_xticks(x)
    ax2.set_xticklabels(names, fontsize=8)
    ax2.legend(fontsize=8)
    ax2.set_title("table vs measured (q = 1)", fontsize=9)
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
