"""Forward activations through depth: how Xavier and He keep them alive, and the variance argument tested per layer.

Run:  python -m experiments.activations            (full run, ~12 s on 2 cores)
      python -m experiments.activations --quick    (seconds; same files, to figures/quick/)

The input is a batch of real MNIST test images, pixels in [0, 1] as every experiment here trains on them (so the
inputs do not have mean 0, which is one of the points). docs/BACKPROP.md section 6 derives what is tested here.
  1. Depth: a net of 10 hidden layers of width 500 with tanh, relu or sigmoid, under N(0, 0.01²), N(0, 1), Xavier
     and He (normal; the four inits of experiments.gradients), at initialization. Per layer, the RMS of z and of
     a = f(z), the share of saturated or zero outputs, and histograms of a → activation_depth.png and
     activation_histograms.png.
  2. The variance argument, E[u²] = n · E[w²] · E[x²] for u = x·w (the pre-activation without its bias), per layer
     of every net of part 1: measured over predicted, with E[w²] and E[x²] measured on the very layer and input.
     The same prediction with Var(x) in place of E[x²] (the slip the derivation warns about), and the activation's
     factor g = E[f(z)²] / E[z²] that carries the second moment to the next layer. He's 1/2 is g for ReLU, and
     Xavier's "close to the identity" is g ≈ 1 for tanh → variance_argument.png.
  3. Where the assumptions fail. (a, b) Training correlates weights with each other and with their inputs: the
     same ratio on a 784-5×100-10 ReLU net (He) after each epoch of SGD on MNIST. (c) A nonzero bias makes z
     asymmetric, and g moves off 1/2. (finite width) The argument is about the distribution of the weights. One
     net's per-layer ratio scatters around 1, and the scatter over seeds shrinks like 1/√width.
"""
import math

import numpy as np

import npnet
from npnet import activations, meanfield, probes

from . import _common as common
from . import _plotting as plotting

ACTS = ("tanh", "relu", "sigmoid")
INITS = {label: spec for label, (spec, _) in common.DEPTH_INITS.items()}   # same four inits as the gradient study
DEPTH = 10
HIST_LAYERS = (1, 4, 7, 10)                # histograms of these hidden layers (1 = next to the input)
HIST_CASES = (("tanh", "N(0, 0.01²)"), ("tanh", "N(0, 1)"), ("tanh", "Xavier"), ("relu", "Xavier"), ("relu", "He"),
              ("sigmoid", "Xavier"))
TRAIN_SIZES = [784, 100, 100, 100, 100, 100, 10]
TRAIN_LR, TRAIN_BATCH = 0.05, 100
BIAS_SHIFTS = (0.0, 0.25, 0.5, 1.0)        # constant bias, in units of the SD of u = x·w
TRAINED_RISE = 0.5   # ≈ 6 SD of the rise's spread without any training effect (two draws of the first layer's
                     # init scatter, SD ≈ 0.056 each, at width 100)


def mean_sq(x):
    """E[x²] over every entry, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x))


def layer_moments(layer, x, z):
    """The variance argument's numbers for one Dense layer with input x (B, n) and pre-activation z (B, m).

    u = z − b is the weights' part of z. Returns E[u²] measured, n·E[w²]·E[x²] predicted, and the same prediction
    with the pooled Var(x) in place of E[x²]; the ratios measured/predicted of both.
    """
    x64 = np.asarray(x, dtype=np.float64)
    u = np.asarray(z, dtype=np.float64) - layer.b
    n = layer.in_features
    w2, x2, var_x = mean_sq(layer.W), mean_sq(x64), float(x64.var())
    predicted, predicted_var = n * w2 * x2, n * w2 * var_x
    measured = mean_sq(u)
    return {"E_u2": measured, "E_w2": w2, "E_x2": x2, "Var_x": var_x, "mean_x": float(x64.mean()),
            "predicted": predicted, "ratio": measured / predicted if predicted else None,
            "ratio_with_var_x": measured / predicted_var if predicted_var else None}


def net_layers(net, X):
    """Forward ``X`` and return, per hidden layer (1 = next to the input), its moments and activation statistics."""
    act_names = [layer.name for layer in net.layers if isinstance(layer, npnet.Activation)]
    with np.errstate(over="ignore", under="ignore"):
        net.forward(X)
    inputs = [X] + net.outputs[:-1]
    rows = []
    for k, name in enumerate(act_names):
        z, a = net.preactivations[k], net.outputs[k]
        z64 = np.asarray(z, dtype=np.float64)
        ez2 = mean_sq(z64)
        signal = float(np.mean(z64.var(axis=0)))   # the part of E[z²] that varies with the input: Var over the batch
        hist_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(name)
        stats = probes.tensor_stats(a, saturated=activations.saturated(name, a), bins=40, hist_range=hist_range)
        rows.append({
            "layer": k + 1, **layer_moments(net.dense[k], inputs[k], z64),
            "rms_z": math.sqrt(ez2), "rms_a": math.sqrt(stats["mean_sq"]), "mean_a": stats["mean"],
            "std_a": stats["std"], "signal_share": signal / ez2 if ez2 else None,
            "g": stats["mean_sq"] / ez2 if ez2 else None,     # E[f(z)²] / E[z²]
            "frac_saturated": stats["frac_saturated"], "frac_zero": stats["frac_zero"],
            "hist_counts": stats["hist_counts"], "hist_edges": stats["hist_edges"],
        })
    return rows


def verdict(act, rows):
    """A short word on what the forward signal does from the first hidden layer to the last."""
    first, last = rows[0], rows[-1]
    if act in ("tanh", "sigmoid") and last["frac_saturated"] > 0.5:
        return "saturated: most outputs at the flat ends of f"
    factor = last["rms_z"] / first["rms_z"]
    word = ("vanishing" if factor < 1e-3 else "shrinking" if factor < 0.2 else
            "exploding" if factor > 1e3 else "growing" if factor > 5 else "steady")
    text = f"{word} (RMS of z ×{factor:.2g} from layer 1 to {last['layer']})"
    if last["signal_share"] < 1e-3 * first["signal_share"]:   # z's size survives, what it says about x does not
        text += f", but the input is lost (input share {first['signal_share']:.2g} → {last['signal_share']:.1g})"
    return text


def depth_study(X, width, seed, dtype, progress):
    """Part 1 and 2: every (activation, init) net at initialization, per-layer statistics on the batch X.

    Every net draws from ``default_rng(seed)``: the same normals, scaled per init (common random numbers), so the
    nets differ only by what is being compared, and their per-layer scatter is one sample, not twelve.
    """
    results = []
    sizes = [X.shape[1]] + [width] * DEPTH + [10]
    for act in ACTS:
        for label, spec in INITS.items():
            net = npnet.mlp(sizes, act, spec, rng=np.random.default_rng(seed), dtype=dtype)
            rows = net_layers(net, X)
            for row, q in zip(rows, mean_field_Ez2(X, width, act, label)):
                row.update(Ez2_theory=q, Ez2_over_theory=row["rms_z"] ** 2 / q)
            results.append({"activation": act, "init": label, "verdict": verdict(act, rows), "layers": rows})
            progress(f"depth: {act:7s} {label:12s} {results[-1]['verdict']}")
    return results


def mean_field_Ez2(X, width, act, label):
    """Mean-field E[z²] of hidden layers 1 … DEPTH (npnet.meanfield): each image's q₁ = Var(w)·Σ_j x_j² (E[x²],
    not Var: the pixels are not centred), carried through the length map, then averaged over the images."""
    var_w = common.DEPTH_INITS[label][1]
    q1 = var_w(X.shape[1], width) * np.sum(np.asarray(X, dtype=np.float64) ** 2, axis=1)
    return meanfield.q_profile(q1, act, [width * var_w(width, width)] * (DEPTH - 1)).mean(axis=1).tolist()


def training_study(data, epochs, seed, dtype, probe, progress):
    """Part 3 (a, b): the ratio measured/predicted per layer of a ReLU/He net before and after each SGD epoch."""
    rng = common.rng_for(seed, 2)
    net = npnet.mlp(TRAIN_SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    per_epoch = [{"epoch": 0, "test_acc": npnet.evaluate(net, data.X_test, data.y_test)["accuracy"],
                  "layers": strip_hist(net_layers(net, probe))}]

    def on_epoch(epoch, net, history):
        per_epoch.append({"epoch": epoch, "test_acc": history["test_acc"][-1],
                          "layers": strip_hist(net_layers(net, probe))})
        ratios = ", ".join(f"{r['ratio']:.2f}" for r in per_epoch[-1]["layers"])
        progress(f"training: epoch {epoch}, test acc {history['test_acc'][-1]:.3f}, measured/predicted {ratios}")

    npnet.train(net, data.X_train, data.y_train, optimizer=npnet.SGD(net, lr=TRAIN_LR), epochs=epochs,
                batch_size=TRAIN_BATCH, rng=rng, X_test=data.X_test, y_test=data.y_test, eval_train=False,
                on_epoch=on_epoch)
    return {"sizes": TRAIN_SIZES, "lr": TRAIN_LR, "batch_size": TRAIN_BATCH, "init": "he_normal",
            "per_epoch": per_epoch}


def strip_hist(rows):
    return [{k: v for k, v in r.items() if not k.startswith("hist_")} for r in rows]


def relu_factor_gaussian(beta):
    """g = E[relu(z)²] / E[z²] for Gaussian z with mean β·s and SD s: (Φ(β)(1 + β²) + βφ(β)) / (1 + β²).

    At β = 0 it is 1/2, He's factor; a bias (β > 0) moves it toward 1.
    """
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    return (Phi * (1 + beta * beta) + beta * phi) / (1 + beta * beta)


BIAS_WIDTH, BIAS_SEEDS = 2048, 4   # wide layers over a few seeds: the scatter of g is then ~0.01


def bias_study(X, seed, dtype):
    """Part 3 (c): ReLU's g for z = u + β·SD(u), He layers of BIAS_WIDTH units on the batch X, mean over seeds."""
    rng = common.rng_for(seed, 3)
    us = []
    for _ in range(BIAS_SEEDS):
        net = npnet.mlp([X.shape[1], BIAS_WIDTH, 10], "relu", "he_normal", rng=rng, dtype=dtype)
        with np.errstate(under="ignore"):
            net.forward(X)
        us.append(np.asarray(net.preactivations[0], dtype=np.float64))   # u: the bias is 0 at init
    out = []
    for beta in BIAS_SHIFTS:
        gs = []
        for u in us:
            z = u + beta * math.sqrt(mean_sq(u))
            gs.append(mean_sq(np.maximum(z, 0.0)) / mean_sq(z))
        out.append({"bias_over_sd_u": beta, "g": float(np.mean(gs)), "g_per_seed": gs,
                    "g_gaussian": relu_factor_gaussian(beta)})
    return {"width": BIAS_WIDTH, "seeds": BIAS_SEEDS, "rows": out}


def width_study(X, widths, n_seeds, depth, seed, dtype):
    """Part 3 (finite width): per-layer ratio measured/predicted and ReLU's g over seeds, ReLU/He, vs width.

    Hidden layers 2… only (their fan-in is the width; layer 1's is the 784 pixels). The argument predicts the
    expectations (ratio 1, g 1/2: checked with arithmetic means over seeds and layers); one net scatters around
    them by ~1/√width.
    """
    seeds = [int(s) for s in common.rng_for(seed, 4).integers(2**32, size=n_seeds)]
    out = []
    for width in widths:
        ratios, gs = [], []
        for s in seeds:
            net = npnet.mlp([X.shape[1]] + [width] * depth + [10], "relu", "he_normal",
                            rng=np.random.default_rng(s), dtype=dtype)
            rows = net_layers(net, X)[1:]
            ratios += [r["ratio"] for r in rows]
            gs += [r["g"] for r in rows]
        out.append({"width": width, "n": len(ratios), "mean_ratio": float(np.mean(ratios)),
                    "se_mean_ratio": float(np.std(ratios, ddof=1) / math.sqrt(len(ratios))),
                    "sd_log_ratio": float(np.std(np.log(ratios), ddof=1)),
                    "mean_g": float(np.mean(gs)), "se_mean_g": float(np.std(gs, ddof=1) / math.sqrt(len(gs))),
                    "sd_g": float(np.std(gs, ddof=1))})
    slope = float(np.polyfit(np.log([r["width"] for r in out]), np.log([r["sd_log_ratio"] for r in out]), 1)[0])
    return {"depth": depth, "seeds": seeds, "activation": "relu", "init": "he_normal", "rows": out,
            "slope_log_sd_vs_log_width": slope}


def checks_of(depth, training, bias, width):
    """The claims of docs/BACKPROP.md section 6, each with the measured numbers and whether they confirm it.

    The argument is about expectations over the weights' draw, so its checks use means over seeds and layers,
    within 4 standard errors; one net's per-layer values scatter by ~1/√width (the last check).
    """
    rows = width["rows"]
    var_x = {act: float(np.median([r["ratio_with_var_x"] for res in depth if res["activation"] == act
                                   for r in res["layers"][1:]])) for act in ACTS}   # inputs = f's outputs
    init_layers, trained = training["per_epoch"][0]["layers"], training["per_epoch"][-1]["layers"]
    rise = trained[0]["ratio"] - init_layers[0]["ratio"]
    g_diff = [abs(r["g"] - r["g_gaussian"]) for r in bias["rows"]]
    slope = width["slope_log_sd_vs_log_width"]
    return {
        "variance_argument": {
            "claim": "at initialization E[u²] = n·E[w²]·E[x²] in expectation: the mean of measured/predicted over "
                     "seeds and layers is 1 within 4 standard errors at every width",
            "mean_ratio_per_width": {r["width"]: r["mean_ratio"] for r in rows},
            "single_net_max_abs_ratio_minus_1": max(abs(r["ratio"] - 1) for res in depth for r in res["layers"]),
            "confirmed": all(abs(r["mean_ratio"] - 1) <= 4 * r["se_mean_ratio"] for r in rows)},
        "relu_keeps_half": {
            "claim": "ReLU keeps half the second moment at init (He's factor): the mean of g = E[relu(z)²]/E[z²] "
                     "over seeds and layers is 1/2 within 4 standard errors at every width",
            "mean_g_per_width": {r["width"]: r["mean_g"] for r in rows},
            "confirmed": all(abs(r["mean_g"] - 0.5) <= 4 * r["se_mean_g"] for r in rows)},
        "E_x2_not_Var_x": {
            "claim": "with Var(x) in place of E[x²] the prediction is too small (median ratio > 1.1 over layers "
                     "2…) wherever the inputs have a nonzero mean: ReLU and sigmoid outputs",
            "median_ratio_with_var_x": var_x,
            "confirmed": var_x["relu"] > 1.1 and var_x["sigmoid"] > 1.1},
        "training_breaks_independence": {
            "claim": "training lines the weights up with their inputs: the first layer's measured/predicted, whose "
                     f"inputs (the pixels) have the most structure, rises by more than {TRAINED_RISE} (≈ 6 SD of "
                     "its scatter at init)",
            "ratio_per_layer_at_init": [r["ratio"] for r in init_layers],
            "ratio_per_layer_after_training": [r["ratio"] for r in trained], "first_layer_rise": rise,
            "confirmed": rise > TRAINED_RISE},
        "bias_moves_relu_factor": {
            "claim": "a bias β·SD(u) makes z asymmetric, and ReLU's g leaves 1/2 as the Gaussian formula "
                     "(Φ(β)(1 + β²) + βφ(β)) / (1 + β²) predicts (within 0.03)",
            "g_measured_vs_gaussian": [[r["bias_over_sd_u"], r["g"], r["g_gaussian"]] for r in bias["rows"]],
            "confirmed": max(g_diff) <= 0.03},
        "finite_width_scatter": {
            "claim": "one net scatters around the expectation by ~1/√width: the log-log slope of the scatter of "
                     "log(measured/predicted) against width lies in [−0.75, −0.25]",
            "sd_log_ratio_per_width": {r["width"]: r["sd_log_ratio"] for r in rows}, "slope": slope,
            "confirmed": -0.75 <= slope <= -0.25},
    }


# ---------------------------------------------------------------- figures
INIT_COLORS = {label: f"C{i}" for i, label in enumerate(INITS)}


def plot_depth(depth, width, path):
    fig, axes = common.plt.subplots(3, 3, figsize=(14, 10), sharex=True)
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
    common.save_figure(fig, path)


def plot_histograms(depth, path):
    cases = [next(r for r in depth if (r["activation"], r["init"]) == case) for case in HIST_CASES]
    fig, axes = common.plt.subplots(len(cases), len(HIST_LAYERS), figsize=(12, 2.1 * len(cases)))
    for i, res in enumerate(cases):
        for j, k in enumerate(HIST_LAYERS):
            ax = axes[i, j]
            row = res["layers"][k - 1]
            counts, edges = np.asarray(row["hist_counts"]), np.asarray(row["hist_edges"])
            ax.bar(edges[:-1], counts / counts.sum(), width=np.diff(edges), align="edge",
                   color=INIT_COLORS[res["init"]])
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(common.plt.MaxNLocator(5))
            ax.yaxis.set_major_locator(common.plt.MaxNLocator(3))
            ax.set_title(f"layer {k}: RMS of a {row['rms_a']:.2g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{res['activation']}, {res['init']}\nshare of outputs", fontsize=8)
            if i == len(cases) - 1 or HIST_CASES[i + 1][0] != res["activation"]:
                ax.set_xlabel(f"activation a = {res['activation']}(z)", fontsize=8)
    fig.suptitle("Histograms of the activations a = f(z) at initialization (share of the outputs in each bin)",
                 fontsize=10)
    fig.tight_layout()
    common.save_figure(fig, path)


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
    fig, axes = common.plt.subplots(2, 3, figsize=(16, 9.5))
    plot_per_layer(axes[0, 0], depth, "ratio", "measured E[u²] / n·E[w²]·E[x²]",
                   "1. at init: the prediction holds, up to one net's scatter\n(12 nets: legend below the figure)")
    plot_per_layer(axes[0, 1], depth, "ratio_with_var_x", "measured E[u²] / n·E[w²]·Var(x)",
                   "2. the slip: Var(x) for E[x²] fails for inputs of nonzero mean\n(the same 12 nets)", log=True)
    plot_per_layer(axes[0, 2], depth, "g", "g = E[f(z)²] / E[z²]",
                   "3. what f passes on: ReLU 1/2 (He), tanh ≈ 1 for small z (Xavier)\n(the same 12 nets)", log=True,
                   lines=((0.5, "ReLU: 1/2"), (1.0, "tanh, small z: 1")))

    ax = axes[1, 0]
    epochs = training["per_epoch"]
    cmap = common.plt.get_cmap("viridis")
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
    common.save_figure(fig, path)


# ---------------------------------------------------------------- main
def main(argv=None):
    args, out, progress = common.start(common.parser("python -m experiments.activations", __doc__.split("\n")[0],
                                                     epochs=5, quick_epochs=2), argv)
    dtype = np.dtype(args.dtype).type
    if args.quick:
        width, n_probe, n_train, n_test, widths, n_seeds = 128, 200, 3_000, 500, (16, 64, 256), 4
    else:
        width, n_probe, n_train, n_test, widths, n_seeds = 500, 1_000, 8_000, 2_000, (16, 64, 256, 1024), 8
    progress(f"loading MNIST ({n_train}/{n_test} requested)")
    data = common.load_mnist(args, n_train, n_test, dtype=dtype)
    probe = data.X_test[:n_probe]
    progress(f"data: {data.source}; probe batch: the first {len(probe)} test images")

    depth = depth_study(probe, width, args.seed, dtype, progress)
    training = training_study(data, args.epochs, args.seed, dtype, probe, progress)
    bias = bias_study(probe, args.seed, dtype)
    width_res = width_study(probe, widths, n_seeds, 5, args.seed, dtype)
    progress("finite width: " + ", ".join(f"{r['width']}: SD {r['sd_log_ratio']:.3f}" for r in width_res["rows"]))
    checks = checks_of(depth, training, bias, width_res)

    print()
    print(f"data: {data.source}")
    table = []
    for res in depth:
        first, mid, last = res["layers"][0], res["layers"][len(res["layers"]) // 2 - 1], res["layers"][-1]
        table.append([res["activation"], res["init"], f"{first['rms_z']:.2g}", f"{mid['rms_z']:.2g}",
                      f"{last['rms_z']:.2g}", f"{last['g']:.2f}", f"{last['signal_share']:.2g}",
                      f"{max(abs(r['ratio'] - 1) for r in res['layers']):.3f}", res["verdict"]])
    print(common.format_table(["activation", "init", "RMS z L1", f"L{DEPTH // 2}", f"L{DEPTH}", "g L10",
                               "input share L10", "max |ratio−1|", "verdict"], table))
    print()
    common.print_checks(checks)

    plot_depth(depth, width, out / "activation_depth.png")
    plot_histograms(depth, out / "activation_histograms.png")
    plot_variance_argument(depth, training, bias, width_res, out / "variance_argument.png")
    common.write_json(out / "activations.json", {
        "experiment": "activations", "data": data.info,
        "config": {"seed": args.seed, "quick": args.quick, "dtype": np.dtype(dtype).name, "width": width,
                   "hidden_layers": DEPTH, "probe": f"first {len(probe)} test images", "epochs": args.epochs,
                   "inits": {label: str(spec) for label, spec in INITS.items()}},
        "depth": [{**res, "layers": res["layers"]} for res in depth],
        "training": training, "bias": bias, "width": width_res, "checks": checks,
    })
    progress(f"wrote {out}/activation_depth.png, activation_histograms.png, variance_argument.png, activations.json")


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.activations"))
