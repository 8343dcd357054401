"""Part 3 of the kaiming-analysis study: its checks of E[relu(z)²]/Var(z) ≈ 1/2 and E[tanh(z)²]/Var(z) ≈ 1, done
literally (as the study wrote them) and correctly (z = X·w, one draw of w = one unit)."""
import numpy as np

from npnet.activations import ACTIVATIONS   # relu, tanh (the study's (1 − e^{−2z})/(1 + e^{−2z}) overflows
                                          # for z < −355; the same function), sigmoid

from .. import _outputs as outputs
from .. import _plotting as plotting
from .teachers import STUDY, make_X


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



def standardization_check(n, seed):
    """Each column's SD after the study's "standardization" (X − mean)/var and after a true z-score (X − mean)/std,
    on n of its inputs: dividing by the variance leaves SD = 1/SD, not 1."""
    X = make_X(n, np.random.default_rng([seed, 7]))
    out = {}
    for how in ("(X-mean)/var", "z-score"):
        sd = transform(X, how).std(axis=0)
        out[how] = {"column_sd": sd.tolist(), "max_abs_sd_minus_1": float(np.max(np.abs(sd - 1)))}
    out["input_column_sd"] = X.std(axis=0).tolist()
    return out

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
        a = ACTIVATIONS[act](z)
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
    A = ACTIVATIONS[act](Z)
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


def plot_ratios(checks, path):
    """Per check: the study's one draw (literal, ×), its computation over re-draws (grey box), the correct
    per-unit distribution (coloured box, ◆ mean), the published value (★)."""
    from matplotlib.lines import Line2D
    colors = {"relu": "C0", "tanh": "C1", "sigmoid": "C2"}
    fig, ax = outputs.plt.subplots(figsize=(11, 0.55 * len(checks) + 1.5))
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
    outputs.save_figure(fig, path)
