"""Part 2 of the kaiming-analysis study: linear and 3-10-1 tanh students under each init, full-batch SGD on every
teacher, the symmetry mechanisms checked bitwise, and the study's table beside ours."""
import numpy as np

import npnet
from npnet import probes

from .. import _outputs as outputs
from .. import _plotting as plotting
from .._compare import in_band
from .teachers import HIDDEN, LR_LINEAR, LR_MLP, STUDY, TEACHERS, make_data


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


#: the symmetric inits run with exact products, so that equal units provably stay bitwise equal (npnet.products)
SYMMETRIC_INITS = ("zero", "one")


def student(kind, init_label, seed):
    """A student ("linear" 3→1 or "mlp" 3-10-1 tanh) with every weight from ``init_label`` and every bias 0."""
    sizes = [3, 1] if kind == "linear" else [3, HIDDEN, 1]
    rng = np.random.default_rng([seed, 3, list(INITS).index(init_label)])
    return npnet.mlp(sizes, "tanh", INITS[init_label][0], "zeros", rng=rng,
                     products="exact" if init_label in SYMMETRIC_INITS else "blas")


def mechanism_checks(kind, init_label, before, net, y, lr, epochs):
    """What zero and one init do to the student, checked with np.array_equal (None for the other inits)."""
    w = net.get_weights()
    if kind == "linear":
        # no hidden layer, so no symmetry: from zero every weight gets its own gradient Σ_b δ_b x_bj and moves
        changed = probes.changed_parameters(before, net)
        return {"changed_params": changed, "confirmed": changed == ["fc1.W", "fc1.b"]
                and bool(np.all(w["fc1.W"] != before["fc1.W"]))} if init_label == "zero" else None
    if init_label == "zero":
        # h = tanh(0) = 0 gives dW2 = δᵀh = 0, and W2 = 0 gives the hidden layer no signal: only b2 moves, by
        # b ← b − lr·2(b − ȳ) each epoch, so b_T = ȳ(1 − (1 − 2 lr)^T)
        closed = float(y.mean() * (1 - (1 - 2 * lr) ** epochs))
        b_out = float(w["fc2.b"][0])
        return {"changed_params": probes.changed_parameters(before, net), "output_bias": b_out,
                "output_bias_closed_form": closed,
                "confirmed": probes.changed_parameters(before, net) == ["fc2.b"]
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
            mse = npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=lr), epochs=epochs, batch_size=None,
                              loss="mse")["train_loss"]      # full batch: the loss before each epoch's step
            records.append({"teacher": teacher, "student": "linear 3-1" if kind == "linear" else "3-10-1 tanh",
                            "init": init_label, "init_formula": INITS[init_label][1], "lr": lr, "seed": seed,
                            "products": net.products.name,
                            "mse": mse, "final_mse": mse[-1],
                            "mechanism": mechanism_checks(kind, init_label, before, net, y, lr, epochs)})
    return records


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
            inside = [in_band(pub, row["min"], row["max"]), in_band(pub_rel, row["over_he_min"], row["over_he_max"])]
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
        return 0.0 if in_band(target, r["over_he_min"], r["over_he_max"]) else \
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


def plot_inits(records, path):
    """MSE per epoch (log axis): tanh student per teacher, linear student per teacher; median and quartile band.
    The published final MSEs sit in a column right of the last epoch, side by side, each in its init's colour."""
    from matplotlib.ticker import NullFormatter
    epochs = len(records[0]["mse"])
    x = np.arange(1, epochs + 1)
    published = [init for init in INITS if init in PUBLISHED_MSE]
    fig, axes = outputs.plt.subplots(2, len(TEACHERS), figsize=(18, 8), sharex=True)
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
    outputs.save_figure(fig, path)
