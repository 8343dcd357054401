"""Figs. 2 and 3 of He et al. (2015) on MNIST MLPs: deep ReLU nets under the paper's "Xavier" (Var w = 1/n_in)
and its own init (Var w = 2/n_in), trained; gradient norms per layer at the start; where "Xavier" stalls against
depth; and the fixed N(0, 0.01²) init against depth. One training run is one picklable task (``train_task``)."""
import math

import numpy as np

import npnet

#: label → (npnet init spec as a function of nothing: Var w = c / n_in, c) — the two inits of Figs. 2 and 3
INITS = {"Xavier (Var w = 1/n_in)": ("lecun_normal", 1.0), "He (Var w = 2/n_in)": ("he_normal", 2.0)}
XAVIER, HE = list(INITS)
STD001 = "N(0, 0.01²)"
STALL_LOSS = 0.95 * math.log(10)     # a run whose training loss stays above this made no progress: stalled


def sizes(depth, width):
    """784 → (depth − 1) hidden ReLU layers of ``width`` → 10: ``depth`` weight layers, as the paper counts."""
    return [784] + [width] * (depth - 1) + [10]


def init_spec(label):
    if label == STD001:
        return ("normal", {"std": 0.01})
    return INITS[label][0]


def build(label, depth, width, seed):
    return npnet.mlp(sizes(depth, width), "relu", init_spec(label), rng=np.random.default_rng([seed, 0]))


def train_task(task):
    """One training run: task = (settings dict, X, y, X_test, y_test) → its per-epoch history (plain floats).

    SGD with momentum (the paper's optimizer), the shuffle from the seed's second stream."""
    s, X, y, Xt, yt = task
    net = build(s["init"], s["depth"], s["width"], s["seed"])
    opt = npnet.SGD(net, lr=s["lr"], momentum=s["momentum"])
    try:
        hist = npnet.train(net, X, y, optimizer=opt, epochs=s["epochs"], batch_size=s["batch"],
                           rng=np.random.default_rng([s["seed"], 1]), X_test=Xt, y_test=yt, eval_train=False)
        diverged = False
    except FloatingPointError:
        hist, diverged = {"train_loss": [float("nan")] * s["epochs"], "test_acc": [0.0] * s["epochs"]}, True
    return {**s, "diverged": diverged, "train_loss": [float(v) for v in hist["train_loss"]],
            "test_error_pct": [100.0 * (1.0 - float(a)) for a in hist["test_acc"]]}


def band(values):
    """mean, min, max over seeds (axis 0) as lists."""
    v = np.asarray(values, dtype=float)
    return {"mean": v.mean(axis=0).tolist(), "min": v.min(axis=0).tolist(), "max": v.max(axis=0).tolist()}


def summarize_runs(runs, key):
    """Group runs by (init, depth): per-epoch bands of ``key`` over seeds."""
    groups = {}
    for r in runs:
        groups.setdefault((r["init"], r["depth"]), []).append(r[key])
    return {f"{init} @ {depth}": {"init": init, "depth": depth, "seeds": len(v), **band(v)}
            for (init, depth), v in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))}


# ---------------------------------------------------------------- gradients per layer at the start
def layer_norms(label, depth, width, seed, X, y):
    """‖dW_l‖ (Frobenius) for every layer and E[z_l²] for every pre-activation, one forward/backward at init."""
    net = build(label, depth, width, seed)
    loss = npnet.SoftmaxCrossEntropy()
    loss.forward(net.forward(X), y)
    net.backward(loss.backward(), need_dX=False)
    return {"grad_norm": [float(np.linalg.norm(d.dW)) for d in net.dense],
            "z_mean_sq": [float(np.mean(z * z)) for z in net.preactivations]}


def gradient_study(depths, width, seeds, X, y):
    """Per depth and init: bands over seeds of ‖dW_l‖ and E[z_l²] at initialization, and the mean-field ratio.

    Mean field (He's eqs. 10 and 14 with c = n_in·Var w): each ReLU layer multiplies E[z²] forward and E[δ²]
    backward by c/2, so ‖dW_l‖² ∝ E[δ_l²]·E[a_{l−1}²] carries (c/2)^(depth−1) wherever l is: "Xavier" (c = 1)
    over He (c = 2) is 2^(−(depth−1)/2) at every layer — all the gradients diminish together."""
    out = {}
    for depth in depths:
        per = {}
        for label in INITS:
            runs = [layer_norms(label, depth, width, s, X, y) for s in seeds]
            per[label] = {"grad_norm": band([r["grad_norm"] for r in runs]),
                          "z_mean_sq": band([r["z_mean_sq"] for r in runs])}
        x, h = (np.asarray(per[k]["grad_norm"]["mean"]) for k in (XAVIER, HE))
        per["ratio_xavier_over_he"] = (x / h).tolist()
        per["predicted_ratio"] = 2.0 ** (-(depth - 1) / 2)
        per["first_layer_ratio"] = float(x[0] / h[0])
        per["first_layer_decades_below_he"] = float(-np.log10(x[0] / h[0]))
        out[str(depth)] = per
    return out


def stall_depth(curves, init):
    """The smallest depth at which every seed of ``init`` stalled (final training loss > STALL_LOSS), or None."""
    stalled = sorted(c["depth"] for c in curves.values() if c["init"] == init and c["min"][-1] > STALL_LOSS)
    return stalled[0] if stalled else None


def trains(curve):
    """Every seed's final training loss at most half of chance's ln 10."""
    return curve["max"][-1] <= 0.5 * math.log(10)


def equivalent_depth(depth, width, std=0.01, fan=9 * 256):
    """The mean-field picture behind the std-0.01 remark, carried from our MLP to a VGG-like conv net.

    A ReLU layer with W ~ N(0, std²) and fan-in n multiplies E[z²] by r = n·std²/2 (width 256: 0.0128; a 3×3
    conv over 256 channels, n = 2,304: 0.115). A net of ``depth`` layers shrinks the signal by r^(depth − 1);
    the depth at which the conv net's per-layer r' shrinks it as much is 1 + (depth − 1)·ln r / ln r'."""
    r, r_conv = width * std * std / 2, fan * std * std / 2
    return {"per_layer_factor": r, "per_layer_factor_conv": r_conv, "fan_conv": fan,
            "equivalent_conv_depth": 1 + (depth - 1) * math.log(r) / math.log(r_conv)}
