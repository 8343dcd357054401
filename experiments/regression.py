"""Synthetic regression under each init, and the Kaiming/Xavier ratio checks done literally and correctly.

Run:  python -m experiments.regression            (full run, ~40 s of CPU time over --jobs workers; writes figures/)
      python -m experiments.regression --quick    (seconds; the same files in figures/quick/)

Reproduces the study `kaiming-analysis` (studies/004, PyTorch float32; here float64):
  1. Data and teachers. X = [x1, x2, x3], x1 ~ N(2, 1), x2 ~ U(−2, 4), x3 = sin(2·U(−1, 1)) + 1, n = 10,000.
     Teachers: linear w = [1.2, −0.5, 2.2], b = −2; 3-10-1 MLPs with relu, sigmoid and tanh hidden layers
     (W1 = 2·N(0, 1), the study's b1, W2 ~ N(0, 1), b2 = 1); y = f(X) + N(0, 1). KDEs of x1, x2, x3, y.
  2. Students, full-batch SGD and MSE for 100 epochs. Linear 3→1 (lr 0.1) from zero and random init; 3-10-1 tanh
     (lr 0.01) from zero, one, the study's "random" `init.normal_(w, 0.01)` — mean 0.01, std 1 —, the intended
     N(0, 0.01²), He and Xavier; every bias 0. Every student on every teacher, ≥ 5 seeds (a seed draws the data,
     the teachers, the noise and the students). Zero and one init run with exact products (npnet.products), so
     their symmetry checks — zero init moves only the output bias, one init keeps every hidden row identical —
     are np.array_equal.
  3. The study's checks of E[relu(z)²]/Var(z) ≈ 1/2 and E[tanh(z)²]/Var(z) ≈ 1: literally (z = w*X elementwise,
     one draw of w, Var(z) in the denominator, "standardized" as (X − mean)/var), over 200+ draws of that same
     computation, and correctly (z = X·w summed over the inputs, w ~ N(0, gain²/fan_in), E[z²] in the
     denominator, the distribution over 200+ draws of w: one draw = one unit).
The printed loss is the study's: the MSE of the forward pass before each step (the last entry is before step 100).
"""
import numpy as np
from scipy.stats import gaussian_kde

import npnet
from npnet import probes
from npnet.regression import train_full_batch

from . import _common as common
from . import _plotting as plotting

N, QUICK_N = 10_000, 1_000
EPOCHS = 100
LR_LINEAR, LR_MLP = 0.1, 0.01
HIDDEN = 10
TEACHERS = ("linear", "relu", "sigmoid", "tanh")
W_LINEAR, B_LINEAR = np.array([[1.2, -0.5, 2.2]]), np.array([-2.0])
B_HIDDEN = np.array([-1.0, 0.5, 0.1, 0.4, 2.5, -1.0, 0.5, 0.1, 0.4, 2.5])   # the study's bh_true
B_OUT = np.array([1.0])

#: init label → (npnet weight initializer, formula as the study writes it → what it draws); every bias is 0
INITS = {
    "zero": ("zeros", "init.zeros_ → W = 0"),
    "one": (("constant", {"value": 1.0}), "init.constant_(W, 1) → W = 1"),
    "random (study: mean 0.01, std 1)": (("normal", {"mean": 0.01, "std": 1.0}),
                                         "init.normal_(W, 0.01) → N(mean 0.01, std 1): the 0.01 is the mean"),
    "random N(0, 0.01²)": (("normal", {"std": 0.01}), "init.normal_(W, std=0.01) → N(0, 0.01²): the intent"),
    "he": ("he_normal", "init.kaiming_normal_ → N(0, 2/fan_in) (leaky_relu with a = 0: gain √2)"),
    "xavier": ("xavier_normal", "init.xavier_normal_ → N(0, 2/(fan_in + fan_out))"),
}
RANDOM_LITERAL, RANDOM_INTENDED = "random (study: mean 0.01, std 1)", "random N(0, 0.01²)"
LINEAR_INITS = ("zero", RANDOM_LITERAL)   # the study's linear student uses the same random_init
#: the study's printed final MSE of the 3-10-1 tanh student on the tanh teacher (its "random" is RANDOM_LITERAL)
PUBLISHED_MSE = {"zero": 7.75, "one": 6.91, RANDOM_LITERAL: 1.53, "he": 1.69, "xavier": 1.61}
PUBLISHED_ZERO_BIAS = -0.8474
PUBLISHED_ONE_ROW, PUBLISHED_ONE_OUT = [0.9429, 1.0374, 0.9788], -0.1123


def make_X(n, rng):
    """The study's inputs (n, 3): x1 ~ N(2, 1), x2 ~ U(−2, 4), x3 = sin(2·U(−1, 1)) + 1."""
    X = np.empty((n, 3))
    X[:, 0] = rng.standard_normal(n) + 2
    X[:, 1] = rng.uniform(-2, 4, n)
    X[:, 2] = np.sin(rng.uniform(-1, 1, n) * 2) + 1
    return X


def teacher_nets(rng):
    """{name: npnet Network} with the study's teacher weights; the three MLPs share W1 = 2·N(0, 1), W2 ~ N(0, 1)."""
    nets = {"linear": npnet.mlp([3, 1], init="zeros", rng=rng)}
    nets["linear"].set_weights({"fc1.W": W_LINEAR, "fc1.b": B_LINEAR})
    weights = {"fc1.W": rng.standard_normal((HIDDEN, 3)) * 2, "fc1.b": B_HIDDEN,
               "fc2.W": rng.standard_normal((1, HIDDEN)), "fc2.b": B_OUT}
    for act in ("relu", "sigmoid", "tanh"):
        nets[act] = npnet.mlp([3, HIDDEN, 1], act, init="zeros", rng=rng)
        nets[act].set_weights(weights)
    return nets


def make_data(n, seed):
    """X (n, 3) and {teacher: y (n, 1)} for one seed: y = teacher(X) + N(0, 1), one noise draw per teacher."""
    X = make_X(n, np.random.default_rng([seed, 0]))
    nets = teacher_nets(np.random.default_rng([seed, 1]))
    ys = {name: net.forward(X) + np.random.default_rng([seed, 2, k]).standard_normal((n, 1))
          for k, (name, net) in enumerate(nets.items())}
    return X, ys


#: the symmetric inits run with exact products, so that equal units provably stay bitwise equal (npnet.products)
SYMMETRIC_INITS = ("zero", "one")


def student(kind, init_label, seed):
    """A student ("linear" 3→1 or "mlp" 3-10-1 tanh) with every weight from ``init_label`` and every bias 0."""
    sizes = [3, 1] if kind == "linear" else [3, HIDDEN, 1]
    rng = np.random.default_rng([seed, 3, list(INITS).index(init_label)])
    return npnet.mlp(sizes, "tanh", INITS[init_label][0], "zeros", rng=rng,
                     products="exact" if init_label in SYMMETRIC_INITS else "blas")


def changed_parameters(before, net):
    """Names of the parameters that training changed, compared bitwise."""
    return [name for name, value in net.get_weights().items() if not np.array_equal(value, before[name])]


def mechanism_checks(kind, init_label, before, net, y, lr, epochs):
    """What zero and one init do to the student, checked with np.array_equal (None for the other inits)."""
    w = net.get_weights()
    if kind == "linear":
        # no hidden layer, so no symmetry: from zero every weight gets its own gradient Σ_b δ_b x_bj and moves
        changed = changed_parameters(before, net)
        return {"changed_params": changed, "confirmed": changed == ["fc1.W", "fc1.b"]
                and bool(np.all(w["fc1.W"] != before["fc1.W"]))} if init_label == "zero" else None
    if init_label == "zero":
        # h = tanh(0) = 0 gives dW2 = δᵀh = 0, and W2 = 0 gives the hidden layer no signal: only b2 moves, by
        # b ← b − lr·2(b − ȳ) each epoch, so b_T = ȳ(1 − (1 − 2 lr)^T)
        closed = float(y.mean() * (1 - (1 - 2 * lr) ** epochs))
        b_out = float(w["fc2.b"][0])
        return {"changed_params": changed_parameters(before, net), "output_bias": b_out,
                "output_bias_closed_form": closed,
                "confirmed": changed_parameters(before, net) == ["fc2.b"]
                and bool(np.isclose(b_out, closed, rtol=1e-9, atol=1e-12))}
    if init_label == "one":
        W1, b1, W2 = w["fc1.W"], w["fc1.b"], w["fc2.W"]
        rows = all(np.array_equal(row, W1[0]) for row in W1)
        outs = bool(np.all(W2 == W2[0, 0]) and np.all(b1 == b1[0]))
        return {"hidden_rows_equal": rows, "output_weights_equal": outs, "distinct_rows": probes.distinct_rows(W1),
                "row": W1[0].tolist(), "output_weight": float(W2[0, 0]), "confirmed": rows and outs}
    return None


def run_cell(task):
    """All students on one (seed, teacher): records with per-epoch MSE and, for zero/one, the mechanism checks."""
    seed, teacher, n, epochs = task
    X, ys = make_data(n, seed)
    y = ys[teacher]
    records = []
    for kind, inits, lr in (("linear", LINEAR_INITS, LR_LINEAR), ("mlp", list(INITS), LR_MLP)):
        for init_label in inits:
            net = student(kind, init_label, seed)
            before = net.get_weights()
            mse = train_full_batch(net, X, y, optimizer=npnet.SGD(net, lr=lr), epochs=epochs)
            records.append({"teacher": teacher, "student": "linear 3-1" if kind == "linear" else "3-10-1 tanh",
                            "init": init_label, "init_formula": INITS[init_label][1], "lr": lr, "seed": seed,
                            "products": net.products.name,
                            "mse": mse, "final_mse": mse[-1],
                            "mechanism": mechanism_checks(kind, init_label, before, net, y, lr, epochs)})
    return records


# ---------------------------------------------------------------------------------------------------------------
# Part 3: the ratio checks

def relu(z):
    return np.maximum(z, 0)


def tanh(z):
    return np.tanh(z)   # the study's (1 − e^{−2z}) / (1 + e^{−2z}) overflows for z < −355; the same function


def sigmoid(z):
    return npnet.activations.sigmoid(z)


FUNCS = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid}


def transform(X, how):
    """The input scalings of the study and the two it talks about: raw, centered, its "standardization"
    (X − mean)/var (optionally × 0.2), z-score (X − mean)/std (optionally × 0.2) and min-max to [0, 1]."""
    mean = X.mean(axis=0)
    if how == "raw":
        return X
    if how == "centered":
        return X - mean
    if how.startswith("(X-mean)/var"):
        return (X - mean) / X.var(axis=0) * (0.2 if how.endswith("x0.2") else 1.0)
    if how.startswith("z-score"):
        return (X - mean) / X.std(axis=0) * (0.2 if how.endswith("x0.2") else 1.0)
    if how == "min-max":
        return (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    raise ValueError(f"unknown transform {how!r}")


def literal_ratio(X, w, act, stat, chunk=64):
    """The study's computation for one draw w (d,) on X (n, k) repeated d/k times side by side (its concatenate):
    z = w * X elementwise (n, d), a = f(z); ``stat`` "E[a²]/Var(z)" = mean(a²)/var(z), or "Var(a)/Var(z)".

    The repeated matrix is never built (the study's 1000 copies are 240 MB): sums run over blocks of copies.
    Returns (ratio, the study's printed "E[wx]" = mean(X)·mean(w)).
    """
    n, k = X.shape
    copies = len(w) // k
    s_a = s_a2 = s_z = s_z2 = 0.0
    for c0 in range(0, copies, chunk):
        wc = w[c0 * k:min(copies, c0 + chunk) * k].reshape(-1, k)           # (c, k): one row per copy
        z = X[:, None, :] * wc[None, :, :]                                  # (n, c, k) = columns of w * X
        a = FUNCS[act](z)
        s_a, s_a2 = s_a + a.sum(), s_a2 + np.sum(a * a)
        s_z, s_z2 = s_z + z.sum(), s_z2 + np.sum(z * z)
    m = n * len(w)
    var_z = s_z2 / m - (s_z / m) ** 2
    num = s_a2 / m if stat == "E[a²]/Var(z)" else s_a2 / m - (s_a / m) ** 2
    return float(num / var_z), float(X.mean() * w.mean())


#: the correct statistic: He propagates second moments (E[relu(z)²] = ½E[z²] for z symmetric about 0); Xavier
#: propagates variances (Var f(z) ≈ Var z where f is linear near 0 with f'(0) = 1)
CORRECT_STAT = {"relu": "E[f(z)²]/E[z²]", "tanh": "Var(f(z))/Var(z)", "sigmoid": "Var(f(z))/Var(z)"}


def correct_ratios(X, W, act):
    """One value per column (unit) of W (d, m): z = X·w summed over the d inputs, the ratio of ``CORRECT_STAT``
    over the n samples, and the forward gain E[z²] / mean_j E[x_j²]. Also the pooled ratio of the means over units.

    For relu, r(w) + r(−w) = 1 exactly (relu(z)² + relu(−z)² = z²), so a symmetric weight distribution gives
    E_w[r] = ½ for any inputs: that is the ½ of He's derivation.
    """
    Z = X @ W                                                               # (n, m): one unit per column
    A = FUNCS[act](Z)
    z2 = np.mean(Z * Z, axis=0)
    if act == "relu":
        num, den = np.mean(A * A, axis=0), z2
    else:
        num, den = A.var(axis=0), Z.var(axis=0)
    return num / den, z2 / np.mean(X * X), float(num.mean() / den.mean())


def summary(values):
    v = np.asarray(values)
    q = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"n": len(v), "mean": float(v.mean()), "sd": float(v.std()), "q05": float(q[0]), "q25": float(q[1]),
            "median": float(q[2]), "q75": float(q[3]), "q95": float(q[4])}


#: The study's eight checks (literal) and the extra settings its conclusions need (correct only, published None).
#: copies = repetitions of the 3 features (its concatenate); independent = that many independent 3-feature draws;
#: scale = its multiplier on w ~ N(0, 1); gain² = the init's variance numerator for the correct version
#: (He: 2 for relu; the study's Xavier formula N(0, 1/n_in): 1 for tanh and sigmoid).
CHECKS = [
    dict(name="relu, raw, 3 inputs", act="relu", how="raw", copies=1, stat="E[a²]/Var(z)", published=0.99),
    dict(name="relu, raw, 450 inputs (150 copies)", act="relu", how="raw", copies=150, stat="E[a²]/Var(z)",
         published=0.42),
    dict(name="relu, centered, 3 inputs", act="relu", how="centered", copies=1, stat="E[a²]/Var(z)", published=0.50),
    dict(name="tanh, centered, 3 inputs", act="tanh", how="centered", copies=1, stat="E[a²]/Var(z)", published=0.36),
    dict(name="tanh, (X-mean)/var, 3 inputs", act="tanh", how="(X-mean)/var", copies=1, stat="E[a²]/Var(z)",
         published=0.55),
    dict(name="tanh, (X-mean)/var x0.2, 3 inputs", act="tanh", how="(X-mean)/var x0.2", copies=1,
         stat="E[a²]/Var(z)", published=0.99),
    dict(name="tanh, raw, 3000 inputs (1000 copies)", act="tanh", how="raw", copies=1000, stat="Var(a)/Var(z)",
         published=0.13),
    dict(name="tanh, raw, 3000 inputs, w x0.05", act="tanh", how="raw", copies=1000, stat="Var(a)/Var(z)",
         scale=0.05, published=0.96),
    dict(name="relu, raw, 450 independent inputs", act="relu", how="raw", independent=150),
    dict(name="relu, z-score, 3 inputs", act="relu", how="z-score", copies=1),
    dict(name="relu, min-max, 3 inputs", act="relu", how="min-max", copies=1),
    dict(name="relu, min-max, 450 independent inputs", act="relu", how="min-max", independent=150),
    dict(name="tanh, raw, 3 inputs", act="tanh", how="raw", copies=1),
    dict(name="tanh, z-score, 3 inputs", act="tanh", how="z-score", copies=1),
    dict(name="tanh, z-score x0.2, 3 inputs", act="tanh", how="z-score x0.2", copies=1),
    dict(name="tanh, min-max, 3 inputs", act="tanh", how="min-max", copies=1),
    dict(name="sigmoid, z-score x0.2, 3 inputs", act="sigmoid", how="z-score x0.2", copies=1),
]
GAIN2 = {"relu": 2.0, "tanh": 1.0, "sigmoid": 1.0}
LITERAL_BUDGET = 1_000_000   # elements of z per literal re-draw: rows are subsampled above this (3000 columns)


def run_check(task):
    """One ratio check: the study's one draw, its computation over many draws, and the correct computation."""
    index, seed, n, draws = task
    c = CHECKS[index]
    rng = np.random.default_rng([seed, 4, index])
    scale = c.get("scale", 1.0)
    if "independent" in c:
        X = transform(np.hstack([make_X(n, rng) for _ in range(c["independent"])]), c["how"])
        d, X3, copies = X.shape[1], None, 1
    else:
        X3 = transform(make_X(n, rng), c["how"])
        copies = c["copies"]
        d = 3 * copies
    out = {"name": c["name"], "activation": c["act"], "inputs": c["how"], "fan_in": d, "published": c.get("published"),
           "literal_statistic": c.get("stat")}
    if "stat" in c:                                                         # one of the study's own checks
        w = rng.standard_normal(d) * scale
        out["literal"], out["literal_E[wx]_as_printed"] = literal_ratio(X3, w, c["act"], c["stat"])
        rows = X3[:max(1, min(n, LITERAL_BUDGET // d))]
        redraws = [literal_ratio(rows, rng.standard_normal(d) * scale, c["act"], c["stat"])[0] for _ in range(draws)]
        out["literal_draws"] = {**summary(redraws), "rows": len(rows)}
        out["literal_values"] = redraws
        if out["published"] is not None:
            out["published_quantile_in_literal_draws"] = float(np.mean(np.asarray(redraws) <= out["published"]))
    # correct: w ~ N(0, scale²·gain²/d) per unit, summed over all d inputs. With copies, X·w over the repeated
    # matrix equals X3·(Σ_copies w) exactly in real arithmetic, which spares the (n, 3000) matrix.
    W = rng.standard_normal((d, draws)) * scale * np.sqrt(GAIN2[c["act"]] / d)
    Xc, Wc = (X, W) if X3 is None else (X3, W.reshape(copies, 3, draws).sum(axis=0))
    ratios, gains, pooled = correct_ratios(Xc, Wc, c["act"])
    out["correct_weight_std"] = f"{scale:g}·√({GAIN2[c['act']]:g}/{d})"
    out["correct_statistic"] = CORRECT_STAT[c["act"]]
    out["correct"] = {**summary(ratios), "se_mean": float(ratios.std() / np.sqrt(len(ratios))), "pooled": pooled,
                      "forward_gain_median": float(np.median(gains))}
    if c["act"] == "relu":   # the identity behind the ½: r(w) + r(−w) = 1 for every draw
        out["correct"]["max_abs_r(w)+r(-w)-1"] = float(np.max(np.abs(ratios + correct_ratios(Xc, -Wc, "relu")[0] - 1)))
    out["correct_values"] = ratios.tolist()
    out["input_mean_sq"] = float(np.mean((X if X3 is None else X3) ** 2))
    return out


def find_check(checks, name):
    return next(c for c in checks if c["name"] == name)


def spread(c):
    """Width of the middle 90% of the per-unit (correct) ratios."""
    return c["correct"]["q95"] - c["correct"]["q05"]


def verdicts(checks):
    """The study's three conclusions, judged on the correct computation (numbers in the text are measured)."""
    g = {c["name"]: c for c in checks}
    raw3, rep450, ind450 = (g["relu, raw, 3 inputs"], g["relu, raw, 450 inputs (150 copies)"],
                            g["relu, raw, 450 independent inputs"])
    cen, zs, mm, mm450 = (g["relu, centered, 3 inputs"], g["relu, z-score, 3 inputs"], g["relu, min-max, 3 inputs"],
                          g["relu, min-max, 450 independent inputs"])
    means = [c["correct"]["mean"] for c in (raw3, rep450, ind450, cen, zs, mm, mm450)]
    se = max(c["correct"]["se_mean"] for c in (raw3, rep450, ind450, cen, zs, mm, mm450))
    identity = max(c["correct"]["max_abs_r(w)+r(-w)-1"] for c in checks if c["activation"] == "relu")
    fan_in_noise = {
        "question": "is 0.99 (3 inputs) vs 0.42 (450 inputs) a fan-in effect or the noise of one draw?",
        "literal_3_inputs_over_draws": {k: raw3["literal_draws"][k] for k in ("q05", "median", "q95")},
        "literal_450_inputs_over_draws": {k: rep450["literal_draws"][k] for k in ("q05", "median", "q95")},
        "correct_3_inputs": {k: raw3["correct"][k] for k in ("q05", "median", "q95", "mean", "se_mean")},
        "correct_450_copies": {k: rep450["correct"][k] for k in ("q05", "median", "q95", "mean", "se_mean")},
        "correct_450_independent": {k: ind450["correct"][k] for k in ("q05", "median", "q95", "mean", "se_mean")},
        "answer": (
            f"noise of one draw. The study's z = w*X is elementwise, so its ratio pools fan-in-1 units: with 3 "
            f"columns it averages 3 draws of w (over {raw3['literal_draws']['n']} re-draws its 90% range is "
            f"{raw3['literal_draws']['q05']:.2f}–{raw3['literal_draws']['q95']:.2f}; 0.99 sits at quantile "
            f"{raw3['published_quantile_in_literal_draws']:.2f}), with 450 it averages 450 draws and lands near "
            f"½ ({rep450['literal_draws']['q05']:.2f}–{rep450['literal_draws']['q95']:.2f}). Summed properly, one "
            f"unit's ratio spreads as widely at fan-in 450 as at 3 (90% ranges {raw3['correct']['q05']:.2f}–"
            f"{raw3['correct']['q95']:.2f}, copies {rep450['correct']['q05']:.2f}–{rep450['correct']['q95']:.2f}, "
            f"independent inputs {ind450['correct']['q05']:.2f}–{ind450['correct']['q95']:.2f}) and its average "
            f"over units is ½ at every fan-in (means {raw3['correct']['mean']:.3f}, "
            f"{rep450['correct']['mean']:.3f}, {ind450['correct']['mean']:.3f}, ± {se:.3f})."),
        "fan_in_effect": bool(spread(ind450) < 0.5 * spread(raw3)),
    }
    kaiming = {
        "claim": "Kaiming needs E[w] = 0 (met when a unit has many inputs) or E[x] = 0",
        "findings": {"mean_over_units_is_half_for_any_inputs": bool(all(abs(m - 0.5) <= 3 * se for m in means)),
                     "centred_inputs_put_every_unit_at_half": bool(spread(cen) < 0.05),
                     "many_inputs_put_every_unit_at_half": bool(spread(ind450) < 0.05)},
        "verdict": (
            "half right. He's E[relu(z)²] = ½E[z²] is an average over the weight distribution; a zero-mean "
            "symmetric w (what He init draws) gives it for any inputs, at any fan-in, because r(w) + r(−w) = 1 "
            f"(max deviation {identity:.1e} here); mean over units {min(means):.3f}–{max(means):.3f} in every "
            f"setting here (± {se:.3f}). For one unit (one w) it needs z "
            f"symmetric, which centred inputs give (90% range {cen['correct']['q05']:.3f}–"
            f"{cen['correct']['q95']:.3f}) and many inputs do not (raw inputs, 450 independent: "
            f"{ind450['correct']['q05']:.2f}–{ind450['correct']['q95']:.2f}): the sample mean of one draw of w "
            "is not what E[w] = 0 means."),
    }
    zscore = {
        "claim": "Z-score helps keep the variance, min-max does not",
        "findings": {"z_score_puts_every_unit_at_half": bool(spread(zs) < 0.05),
                     "min_max_does_not": bool(spread(mm) > 0.5 and spread(mm450) > 0.5),
                     "centring_alone_does_as_well": bool(spread(cen) < 0.05)},
        "verdict": (
            f"right per unit, for the reason of centring: z-score (90% range {zs['correct']['q05']:.3f}–"
            f"{zs['correct']['q95']:.3f}) and plain centring ({cen['correct']['q05']:.3f}–"
            f"{cen['correct']['q95']:.3f}) put every unit at ½; min-max leaves inputs in [0, 1], uncentred "
            f"({mm['correct']['q05']:.2f}–{mm['correct']['q95']:.2f}; 450 inputs {mm450['correct']['q05']:.2f}–"
            f"{mm450['correct']['q95']:.2f}). Averaged over units all give ½ (min-max "
            f"{mm['correct']['mean']:.3f}); the study never ran min-max."),
    }
    t = {k: g[k] for k in ("tanh, raw, 3 inputs", "tanh, centered, 3 inputs", "tanh, z-score, 3 inputs",
                           "tanh, z-score x0.2, 3 inputs", "tanh, min-max, 3 inputs",
                           "tanh, raw, 3000 inputs (1000 copies)", "tanh, raw, 3000 inputs, w x0.05",
                           "sigmoid, z-score x0.2, 3 inputs")}
    med = {k: v["correct"]["median"] for k, v in t.items()}
    xavier = {
        "claim": "Xavier needs small zero-mean inputs and tanh",
        "findings": {"small_inputs_needed": bool(med["tanh, z-score x0.2, 3 inputs"] > 0.9 > med["tanh, z-score, 3 inputs"]),
                     "uncentred_small_beats_centred_large": bool(med["tanh, min-max, 3 inputs"]
                                                                  > med["tanh, centered, 3 inputs"]),
                     "sigmoid_fails_even_small": bool(med["sigmoid, z-score x0.2, 3 inputs"] < 0.5),
                     "fan_in_cancels_under_xavier": bool(abs(med["tanh, raw, 3000 inputs (1000 copies)"]
                                                             - med["tanh, raw, 3 inputs"]) < 0.1)},
        "verdict": (
            "right about size and tanh, half right about zero mean, wrong about fan-in. With Xavier's Var(w) = 1/n the summed z has "
            "E[z²] ≈ mean E[x²], so Var(tanh(z))/Var(z) ≈ 1 (tanh's linear range) needs E[x²] ≪ 1: z-score "
            f"{med['tanh, z-score, 3 inputs']:.2f}, z-score × 0.2 {med['tanh, z-score x0.2, 3 inputs']:.2f}, "
            f"centred {med['tanh, centered, 3 inputs']:.2f}, raw {med['tanh, raw, 3 inputs']:.2f}, min-max "
            f"{med['tanh, min-max, 3 inputs']:.2f} (medians over units): the mean counts only as part of E[x²] = mean² + "
            "Var, so small uncentred min-max inputs beat centred raw ones. "
            f"Sigmoid stays far from 1 even then ({med['sigmoid, z-score x0.2, 3 inputs']:.2f}: σ' = ¼ and "
            "σ(0) = ½). Fan-in cancels: 3000 inputs give "
            f"{med['tanh, raw, 3000 inputs (1000 copies)']:.2f} like 3 raw inputs; the study's 'smaller weights "
            "for more inputs, a contradiction' is Xavier's 1/n itself, and its × 0.05 reaches ratio "
            f"{med['tanh, raw, 3000 inputs, w x0.05']:.2f} only by shrinking E[z²] to "
            f"{t['tanh, raw, 3000 inputs, w x0.05']['correct']['forward_gain_median']:.4f} of E[x²]."),
    }
    return {"fan_in_vs_noise": fan_in_noise, "kaiming_needs_zero_mean_w_or_x": kaiming,
            "zscore_helps_minmax_not": zscore, "xavier_needs_small_zero_mean_inputs_and_tanh": xavier}


# ---------------------------------------------------------------------------------------------------------------
# Summaries, figures, main

def final_table(records):
    """{(student, teacher, init): final MSE per seed}."""
    table = {}
    for r in records:
        table.setdefault((r["student"], r["teacher"], r["init"]), []).append(r["final_mse"])
    return table


def published_rows(records):
    """The study's table (tanh student, tanh teacher) beside ours, over seeds: the final MSE, and the final MSE
    relative to He's on the same seed (which cancels most of the teacher draw: the study had one teacher, we have
    one per seed). Verdict: is the published value inside our seed range?"""
    finals = final_table(records)
    he = np.asarray(finals[("3-10-1 tanh", "tanh", "he")])
    rows = []
    for init_label in INITS:
        ours = np.asarray(finals[("3-10-1 tanh", "tanh", init_label)])
        rel = ours / he
        pub = PUBLISHED_MSE.get(init_label)
        pub_rel = None if pub is None else pub / PUBLISHED_MSE["he"]
        row = {"init": init_label, "published": pub, "median": float(np.median(ours)), "min": float(ours.min()),
               "max": float(ours.max()), "seeds": len(ours), "published_over_he": pub_rel,
               "over_he_median": float(np.median(rel)), "over_he_min": float(rel.min()), "over_he_max": float(rel.max())}
        if pub is None:
            row["verdict"] = "not published"
        else:
            inside = [row["min"] <= pub <= row["max"], row["over_he_min"] <= pub_rel <= row["over_he_max"]]
            row["verdict"] = {(True, True): "reproduced (inside both ranges)", (True, False): "MSE inside, ratio outside",
                              (False, True): "ratio to He inside, MSE outside",
                              (False, False): "not reproduced"}[tuple(inside)]
        rows.append(row)
    return rows


def random_reading(rows):
    """Which reading of the study's "random" init gives its 1.53: judged on the MSE relative to He on the same
    teacher (published 1.53/1.69): the reading whose seed range holds it, else the nearer one."""
    by = {r["init"]: r for r in rows}
    target = PUBLISHED_MSE[RANDOM_LITERAL] / PUBLISHED_MSE["he"]

    def distance(r):
        return 0.0 if r["over_he_min"] <= target <= r["over_he_max"] else \
            min(abs(r["over_he_min"] - target), abs(r["over_he_max"] - target))

    match = min((RANDOM_LITERAL, RANDOM_INTENDED), key=lambda k: distance(by[k]))
    other = RANDOM_INTENDED if match == RANDOM_LITERAL else RANDOM_LITERAL

    def describe(k):
        r = by[k]
        return (f"MSE {r['median']:.2f} ({r['min']:.2f}–{r['max']:.2f}), ÷ He {r['over_he_median']:.2f} "
                f"({r['over_he_min']:.2f}–{r['over_he_max']:.2f})")

    return {"published": PUBLISHED_MSE[RANDOM_LITERAL], "published_over_he": target, "matches": match,
            "text": f"1.53 (÷ He's 1.69 = {target:.2f}) matches '{match}': {describe(match)}; '{other}': "
                    f"{describe(other)}"}


def published_teacher_implied(records, n, epochs):
    """What the study's zero-init numbers imply about its tanh teacher's y, next to ours.

    Zero init: b_T = ȳ(1 − (1 − 2 lr)^T), and the last recorded loss (before step T) is Var(y) + (ȳ(1 − 2 lr)^(T−1))².
    """
    q = 1 - 2 * LR_MLP
    mean_y = PUBLISHED_ZERO_BIAS / (1 - q ** epochs)
    var_y = PUBLISHED_MSE["zero"] - (mean_y * q ** (epochs - 1)) ** 2
    seeds = sorted({r["seed"] for r in records})
    ours = [make_data(n, s)[1]["tanh"] for s in seeds]
    return {"published_implies_mean_y": mean_y, "published_implies_var_y": var_y,
            "our_mean_y_per_seed": [float(y.mean()) for y in ours], "our_var_y_per_seed": [float(y.var()) for y in ours],
            "formula": "b_T = ȳ(1 − (1 − 2·lr)^T); MSE_last = Var(y) + (ȳ(1 − 2·lr)^(T−1))²"}


#: the inits in words for legends
INIT_WORDS = {"zero": "all zero", "one": "all one", "random (study: mean 0.01, std 1)":
              "the study's \"random\": N(mean 0.01, std 1)", "random N(0, 0.01²)": "N(0, 0.01²), the intended random",
              "he": "He, N(0, 2/fan_in)", "xavier": "Xavier (Glorot normal)"}
STUDY = "kaiming-analysis"


def plot_kde(X, ys, seed, path):
    """The study's figure: KDE of x1, x2, x3 and y for each teacher (gaussian_kde, grid min − 1 … max + 1)."""
    fig, axes = common.plt.subplots(2, 2, figsize=(13, 7.5))
    for ax, (name, y) in zip(axes.flat, ys.items()):
        for label, v in (("input x1 ~ N(2, 1)", X[:, 0]), ("input x2 ~ U(−2, 4)", X[:, 1]),
                         ("input x3 = sin(2·U(−1, 1)) + 1", X[:, 2]), ("target y of the teacher", y[:, 0])):
            grid = np.linspace(v.min() - 1, v.max() + 1, 100)
            dens = gaussian_kde(v)(grid)
            ax.plot(grid, dens, label=label)
            ax.fill_between(grid, dens, alpha=0.4)
        ax.set_title(f"{name} teacher: y mean {y.mean():.2f}, var {y.var():.2f}", fontsize=9)
        ax.set_xlabel("value")
        ax.set_ylabel("density (per unit of value)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, ncol=4, y=0.03)
    fig.subplots_adjust(hspace=0.35, bottom=0.12)
    fig.suptitle(f"{STUDY}'s inputs and targets reproduced (gaussian_kde, as the study), n = {len(X)}, seed {seed}")
    common.save_figure(fig, path)


def plot_inits(records, path):
    """MSE per epoch (log axis): tanh student per teacher, linear student per teacher; median and quartile band.
    The published final MSEs sit in a column right of the last epoch, side by side, each in its init's colour."""
    from matplotlib.ticker import NullFormatter
    epochs = len(records[0]["mse"])
    x = np.arange(1, epochs + 1)
    published = [init for init in INITS if init in PUBLISHED_MSE]
    fig, axes = common.plt.subplots(2, len(TEACHERS), figsize=(18, 8), sharex=True)
    for row, (student_name, inits) in enumerate((("3-10-1 tanh", list(INITS)), ("linear 3-1", LINEAR_INITS))):
        for col, teacher in enumerate(TEACHERS):
            ax = axes[row, col]
            for init_label in inits:
                curves = np.array([r["mse"] for r in records if r["student"] == student_name
                                   and r["teacher"] == teacher and r["init"] == init_label])
                color = f"C{list(INITS).index(init_label)}"
                low, mid, high = np.quantile(curves, [0.25, 0.5, 0.75], axis=0)
                ax.plot(x, mid, color=color, label=f"{INIT_WORDS[init_label]} (median of {len(curves)} seeds)")
                ax.fill_between(x, low, high, color=color, alpha=0.15)
                if student_name == "3-10-1 tanh" and teacher == "tanh" and init_label in PUBLISHED_MSE:
                    i = published.index(init_label)
                    plotting.published(ax, [epochs + 6 + 5 * i], [PUBLISHED_MSE[init_label]], STUDY,
                                       "final MSE, tanh teacher (right of epoch 100, side by side)", color=color,
                                       markersize=12)
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{student_name} student, {teacher} teacher", fontsize=9)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
            if col == 0:
                ax.set_ylabel("training MSE before each step\n(log scale)")
        handles, labels = axes[row, -1].get_legend_handles_labels()
        if row == 0:
            handles = [h for h in handles if not h.get_label().startswith("published")] + [
                plotting.published_key(STUDY, "final MSE, tanh teacher (star in its init's colour)")]
        plotting.legend_outside(axes[row, -1], handles=handles,
                                title="band: quartiles over seeds" if row == 0 else None, title_fontsize=7)
    axes[0, -1].set_xlim(-3, epochs + 6 + 5 * len(published))
    fig.suptitle(f"{STUDY} reproduced: full-batch SGD, MSE, float64; lines: median over seeds, bands: quartiles "
                 "(each seed draws its own teachers and data); stars: the study's printed values", fontsize=10)
    common.save_figure(fig, path)


def plot_ratios(checks, path):
    """Per check: the study's one draw (literal, ×), its computation over re-draws (grey box), the correct
    per-unit distribution (coloured box, ◆ mean), the published value (★)."""
    from matplotlib.lines import Line2D
    colors = {"relu": "C0", "tanh": "C1", "sigmoid": "C2"}
    fig, ax = common.plt.subplots(figsize=(11, 0.55 * len(checks) + 1.5))
    ys = np.arange(len(checks))[::-1]
    for y, c in zip(ys, checks):
        if "literal_values" in c:
            ax.boxplot([c["literal_values"]], positions=[y + 0.18], orientation="horizontal", widths=0.28, whis=(5, 95),
                       showfliers=False, patch_artist=True, boxprops=dict(facecolor="0.85"))
            ax.plot(c["literal"], y + 0.18, "x", color="k", markersize=8)
        color = colors[c["activation"]]
        ax.boxplot([c["correct_values"]], positions=[y - 0.18], orientation="horizontal", widths=0.28, whis=(5, 95),
                   showfliers=False, patch_artist=True, boxprops=dict(facecolor=color, alpha=0.5))
        ax.plot(c["correct"]["mean"], y - 0.18, "D", color=color, markeredgecolor="k", markersize=6)
        if c["published"] is not None:
            plotting.published(ax, [c["published"]], [y + 0.18], STUDY, color=color)
    ax.set_yticks(ys)
    ax.set_yticklabels([c["name"] for c in checks], fontsize=8)
    plotting.theory(ax, [0.5, 0.5], [ys[-1] - 0.5, ys[0] + 0.5], label="theory: ReLU ½ (He)", color="C0")
    plotting.theory(ax, [1.0, 1.0], [ys[-1] - 0.5, ys[0] + 0.5], label="theory: tanh 1 (Xavier)", color="C1")
    ax.set_xlabel("ratio (upper, grey: the study's computation; lower, coloured: the correct one; whiskers 5–95%)")
    handles = [plotting.published_key(STUDY, "star in the activation's colour"),
               Line2D([], [], marker="x", color="k", linestyle="none", label="literal, one draw (as the study)"),
               Line2D([], [], marker="D", color="0.5", markeredgecolor="k", linestyle="none",
                      label="correct, mean over units"),
               *[h for h in ax.get_lines() if h.get_label().startswith("theory")]]
    plotting.legend_outside(ax, "below", handles=handles, ncol=3)
    ax.set_title(f"{STUDY}'s ratio checks redone. literal: z = w*X elementwise, w ~ N(0, 1), E[a²]/Var(z)  vs  "
                 "correct: z = X·w, w ~ N(0, gain²/fan_in), per unit\nrelu E[f(z)²]/E[z²] (He: ½), tanh and sigmoid "
                 "Var(f(z))/Var(z) (Xavier: 1)", fontsize=9)
    common.save_figure(fig, path)


def main(argv=None):
    p = common.parser("python -m experiments.regression", __doc__.split("\n")[0], epochs=EPOCHS, data=False,
                      dtype=False, jobs=True, seeds=10, quick_seeds=2)
    p.add_argument("--draws", type=common.positive_int_arg, default=None,
                   help="draws of w per ratio check (default: 400, 40 with --quick)")
    args, out, progress = common.start(p, argv)
    n = QUICK_N if args.quick else N
    draws = args.draws or (40 if args.quick else 400)
    seeds = [args.seed + i for i in range(args.seeds)]
    tasks = [(s, t, n, args.epochs) for s in seeds for t in TEACHERS]
    progress(f"{len(tasks)} (seed, teacher) cells × {len(INITS) + len(LINEAR_INITS)} students, n = {n}, "
             f"{args.epochs} epochs, --jobs {args.jobs}")
    records = [r for cell in common.parallel_map(run_cell, tasks, args.jobs) for r in cell]
    progress(f"{len(records)} runs trained; {len(CHECKS)} ratio checks with {draws} draws each")
    checks = common.parallel_map(run_check, [(i, args.seed, n, draws) for i in range(len(CHECKS))], args.jobs)
    progress("ratio checks done")

    rows = published_rows(records)
    reading = random_reading(rows)
    judged = verdicts(checks)
    mech = [r for r in records if r["mechanism"] is not None]
    implied = published_teacher_implied(records, n, args.epochs)

    print()
    print("3-10-1 tanh student on the tanh teacher, final MSE (before step "
          f"{args.epochs}), over {args.seeds} seeds:")
    print(common.format_table(
        ["init", "published", "ours median", "ours min–max", "published ÷ He", "ours ÷ He median", "min–max",
         "verdict"],
        [[r["init"], "-" if r["published"] is None else r["published"], f"{r['median']:.2f}",
          f"{r['min']:.2f}–{r['max']:.2f}", "-" if r["published"] is None else f"{r['published_over_he']:.2f}",
          f"{r['over_he_median']:.2f}", f"{r['over_he_min']:.2f}–{r['over_he_max']:.2f}", r["verdict"]]
         for r in rows]))
    print(reading["text"])
    finals = final_table(records)
    print()
    print("final MSE, median over seeds (every student × teacher):")
    print(common.format_table(["student", "init", *TEACHERS],
                              [[s, i, *[f"{np.median(finals[(s, t, i)]):.2f}" for t in TEACHERS]]
                               for s, inits in (("linear 3-1", LINEAR_INITS), ("3-10-1 tanh", list(INITS)))
                               for i in inits]))
    print()
    ok = all(r["mechanism"]["confirmed"] for r in mech)
    one = [r["mechanism"] for r in mech if r["init"] == "one" and r["teacher"] == "tanh"][0]
    zero = [r["mechanism"] for r in mech if r["init"] == "zero" and r["student"] == "3-10-1 tanh"
            and r["teacher"] == "tanh"][0]
    print(f"mechanisms (np.array_equal, {len(mech)} runs): {'all confirmed' if ok else 'NOT all confirmed'}. "
          f"zero init: only the output bias moves, to {zero['output_bias']:.4f} (closed form "
          f"{zero['output_bias_closed_form']:.4f}; published {PUBLISHED_ZERO_BIAS}); one init: {one['distinct_rows']} "
          f"distinct hidden row {np.round(one['row'], 4).tolist()}, output weights all {one['output_weight']:.4f} "
          f"(published {PUBLISHED_ONE_ROW}, {PUBLISHED_ONE_OUT})")
    print(f"the published zero-init numbers imply a tanh teacher with mean y {implied['published_implies_mean_y']:.3f} "
          f"and Var(y) {implied['published_implies_var_y']:.2f}; ours per seed: Var(y) "
          f"{min(implied['our_var_y_per_seed']):.2f}–{max(implied['our_var_y_per_seed']):.2f}")
    print()
    print(common.format_table(
        ["check", "published", "literal (1 draw)", "literal 5–95%", "correct median", "correct 5–95%", "mean over units"],
        [[c["name"], "-" if c["published"] is None else c["published"],
          f"{c['literal']:.2f}" if "literal" in c else "-",
          f"{c['literal_draws']['q05']:.2f}–{c['literal_draws']['q95']:.2f}" if "literal" in c else "-",
          f"{c['correct']['median']:.3f}", f"{c['correct']['q05']:.3f}–{c['correct']['q95']:.3f}",
          f"{c['correct']['mean']:.3f}"] for c in checks]))
    print()
    print("fan-in or noise? " + judged["fan_in_vs_noise"]["answer"])
    for key in ("kaiming_needs_zero_mean_w_or_x", "zscore_helps_minmax_not",
                "xavier_needs_small_zero_mean_inputs_and_tanh"):
        print(f"\"{judged[key]['claim']}\": {judged[key]['verdict']}")

    X, ys = make_data(n, args.seed)
    plot_kde(X, ys, args.seed, out / "regression_kde.png")
    plot_inits(records, out / "regression_inits.png")
    plot_ratios(checks, out / "regression_kaiming_ratios.png")
    common.write_json(out / "regression.json", {
        "experiment": "regression",
        "config": {"n": n, "epochs": args.epochs, "lr_linear": LR_LINEAR, "lr_mlp": LR_MLP, "seeds": seeds,
                   "draws": draws, "quick": args.quick, "dtype": "float64",
                   "products": f"exact for {', '.join(SYMMETRIC_INITS)}, blas otherwise",
                   "loss_recorded": "MSE of the forward pass before each step (the study's loss.item()); per-epoch "
                                    "curves to 6 significant digits, final_mse in full",
                   "inits": {k: v[1] for k, v in INITS.items()}},
        "published_vs_ours": rows, "random_reading": reading, "published_teacher_implied": implied,
        "mechanisms_confirmed": ok,
        "published_mechanisms": {"zero_output_bias": PUBLISHED_ZERO_BIAS, "one_hidden_row": PUBLISHED_ONE_ROW,
                                 "one_output_weight": PUBLISHED_ONE_OUT},
        "runs": [{**r, "mse": [float(f"{v:.6g}") for v in r["mse"]]} for r in records],   # curves to 6 digits
        "ratio_checks": [{k: v for k, v in c.items() if not k.endswith("_values")} for c in checks],
        "verdicts": judged,
    })
    progress(f"wrote {out}/regression_*.png and {out}/regression.json")


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.regression"))
