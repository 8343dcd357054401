"""The lecture's Adam demo: 784-128-64-10 ReLU under PyTorch's default, zero and all-ones inits."""
import math

from .. import _outputs as outputs
from .. import _plotting as plotting
from .._compare import in_band
from .runs import TORCH_DEFAULT as _TORCH
from .runs import band, complete, curve, runs_of, stats, task


LECTURE = {"sizes": [784, 128, 64, 10], "lr": 1e-3, "sgd_lr": 0.01, "batch": 64, "epochs": 10, "quick_epochs": 2,
           "n": (60_000, 10_000), "offline_n": (10_000, 2_000), "quick_n": (1_000, 300)}


_ONES = ("constant", {"value": 1.0})
#: variant → (weight inits, bias inits, activation, relu'(0), optimizer, products, dtype, formula)
LECTURE_VARIANTS = {
    "default": ([_TORCH] * 3, [_TORCH] * 3, "relu", 0.0, "adam", "blas", "float64",
                "PyTorch nn.Linear default: W, b ~ U(±1/√n_in)"),
    "zero_first": (["zeros", _TORCH, _TORCH], ["zeros", _TORCH, _TORCH], "relu", 0.0, "adam", "blas", "float64",
                   "W1 = b1 = 0, later layers PyTorch default"),
    # every gradient but the output bias's is exactly 0 in any product mode: BLAS suffices here
    "all_zero": (["zeros"] * 3, ["zeros"] * 3, "relu", 0.0, "adam", "blas", "float64", "every W and b = 0"),
    "all_ones": ([_ONES] * 3, [_ONES] * 3, "relu", 0.0, "adam", "exact", "float64", "every W and b = 1"),
    "all_ones_blas_f32": ([_ONES] * 3, [_ONES] * 3, "relu", 0.0, "adam", "blas", "float32",
                          "every W and b = 1, BLAS float32 (what PyTorch computes)"),
    "zero_first_tanh": (["zeros", _TORCH, _TORCH], ["zeros", _TORCH, _TORCH], "tanh", 0.0, "adam", "blas",
                        "float64", "W1 = b1 = 0, tanh"),
    "zero_first_sigmoid": (["zeros", _TORCH, _TORCH], ["zeros", _TORCH, _TORCH], "sigmoid", 0.0, "adam", "blas",
                           "float64", "W1 = b1 = 0, sigmoid"),
    "zero_first_relu1": (["zeros", _TORCH, _TORCH], ["zeros", _TORCH, _TORCH], "relu", 1.0, "adam", "blas",
                         "float64", "W1 = b1 = 0, ReLU with relu'(0) = 1"),
    "default_sgd": ([_TORCH] * 3, [_TORCH] * 3, "relu", 0.0, "sgd", "blas", "float64",
                    "PyTorch default, plain SGD lr 0.01"),
    "zero_first_sgd": (["zeros", _TORCH, _TORCH], ["zeros", _TORCH, _TORCH], "relu", 0.0, "sgd", "blas", "float64",
                       "W1 = b1 = 0, plain SGD lr 0.01"),
}


#: the lecture's number of Adam steps: 10 epochs of 60,000 images at batch 64 (938 steps an epoch)
LECTURE_STUDY_STEPS = 10 * math.ceil(60_000 / 64)
#: variants rerun for about that many steps on the offline split (more epochs over fewer images): the rows whose
#: result depends on the step count read these; the zero-init variants do not need it (their frozen parameters
#: get exactly zero gradient at every step)
LECTURE_STEP_MATCHED = {"default_steps": "default", "all_ones_blas_f32_steps": "all_ones_blas_f32"}


def step_matched_epochs(n_train, batch=None, steps=LECTURE_STUDY_STEPS):
    """Epochs over ``n_train`` images whose steps come closest to ``steps`` (9,375 for 9,380 on 8,000 images)."""
    per_epoch = math.ceil(n_train / (batch or LECTURE["batch"]))
    return max(1, round(steps / per_epoch))


def lecture_tasks(data, carve, seeds, epochs, variants=None):
    """The lecture's runs: every variant for ``epochs`` (or ``variants``: {name: (variant it repeats, epochs)})."""
    plan = variants or {name: (name, epochs) for name in LECTURE_VARIANTS}
    out = []
    for name, (base, n_epochs) in plan.items():
        inits, biases, act, relu0, opt, products, dtype, formula = LECTURE_VARIANTS[base]
        lr = LECTURE["sgd_lr"] if opt == "sgd" else LECTURE["lr"]
        if name != base:
            formula += f"; {n_epochs} epochs, to match the lecture's {LECTURE_STUDY_STEPS:,} Adam steps"
        out += [task("lecture", name, seed, sizes=LECTURE["sizes"], init=inits, bias=biases, activation=act,
                     relu0=relu0, optimizer=opt, lr=lr, batch=LECTURE["batch"], epochs=n_epochs, products=products,
                     dtype=dtype, data=data, carve=carve, formula=formula) for seed in seeds]
    return out


def in_range(value, low, high):
    return "confirmed" if in_band(value, low, high) else ("above the range" if value > high else "below the range")


def lecture_summary(records, test_shares):
    names = [*LECTURE_VARIANTS, *(n for n in LECTURE_STEP_MATCHED if runs_of(records, "lecture", n))]
    finals = {name: stats([r["test_acc"][-1] for r in complete(runs_of(records, "lecture", name))])
              for name in names if complete(runs_of(records, "lecture", name))}
    curves = {name: {key: curve(runs_of(records, "lecture", name), key) for key in ("train_loss", "test_loss",
                                                                                     "test_acc")}
              for name in names}
    diverged = {name: sum(r["diverged"] is not None for r in runs_of(records, "lecture", name))
                for name in names}

    def first_layer_frozen(name):
        runs = runs_of(records, "lecture", name)
        return bool(runs) and all("fc1.W" not in r["nonzero_params"] and "fc1.b" not in r["nonzero_params"]
                                  for r in runs)

    verdicts = []
    if "default" in finals:
        v = finals["default"]["mean"]
        verdicts.append({"claim": "default init reaches 90–95 %", "variant": "default", "ours": finals["default"],
                         "verdict": in_range(v, 0.90, 0.95),
                         "reason": f"PyTorch's default init and Adam learn normally ({v:.3f}); the range is the "
                                   "lecture's, stated without a run"})
    zero_first = {}
    for name in ("zero_first", "zero_first_sgd", "zero_first_relu1", "zero_first_tanh", "zero_first_sigmoid"):
        if name in finals:
            frozen = first_layer_frozen(name)
            zero_first[name] = {"final_test_acc": finals[name], "W1_b1_stay_exactly_zero": frozen,
                                "learns": bool(finals[name]["mean"] > max(test_shares) + 0.1)}
    if zero_first:
        relu = zero_first.get("zero_first")
        verdicts.append({
            "claim": "zero first layer: the network may still learn somewhat", "variant": "zero_first*",
            "ours": zero_first,
            "verdict": "wrong for ReLU with relu'(0) = 0 (PyTorch's convention), right otherwise"
            if relu and relu["W1_b1_stay_exactly_zero"] and not relu["learns"] else "see per-variant results",
            "reason": "with W1 = b1 = 0 every hidden pre-activation is exactly 0, ReLU outputs 0 and passes "
                      "relu'(0) = 0 back: W1 and b1 get exactly zero gradient forever (Adam and SGD alike), the "
                      "output no longer depends on the input and the net predicts one class. tanh, sigmoid and "
                      "relu'(0) = 1 pass the gradient (W2ᵀδ differs per unit) and learn"})
    if "all_zero" in finals:
        runs = runs_of(records, "lecture", "all_zero")
        nonzero = sorted({p for r in runs for p in r["nonzero_params"]})
        verdicts.append({
            "claim": "all zero: ≈ 10 %, and only zeros in the final weights", "variant": "all_zero",
            "ours": finals["all_zero"], "nonzero_params_after_training": nonzero,
            "nonzero_weights_after_training": [p for p in nonzero if p.endswith(".W")],
            "verdict": ("≈ 10 % confirmed; 'only zeros' wrong: the output bias learns" if nonzero == ["fc3.b"]
                        else "see numbers"),
            "reason": "hidden outputs are ReLU(0) = 0 and W3 = 0, so every gradient but the output bias's is exactly "
                      "0; the output bias learns the class frequencies, so the net predicts the most frequent "
                      f"training class for every image (test accuracy = that class's share, max share "
                      f"{max(test_shares):.3f})"})
    for name in ("all_ones", "all_ones_blas_f32", "all_ones_blas_f32_steps"):
        if name in finals:
            runs = complete(runs_of(records, "lecture", name))
            rows = sorted({tuple(r["distinct_rows"][-1]) for r in runs})
            verdicts.append({
                "claim": "all ones: often stuck at 20–40 %", "variant": name, "ours": finals[name],
                "distinct_hidden_rows_final": [list(r) for r in rows], "diverged_runs": diverged[name],
                "verdict": in_range(finals[name]["mean"], 0.20, 0.40),
                "reason": "every hidden unit of a layer starts equal and gets equal updates (one distinct row per "
                          "layer in exact mode), so the net is 784-1-1-10 with huge pre-activations; Adam's "
                          "normalized steps of 1e-3 barely move weights of size 1"})
    return {"final_test_acc": finals, "curves": curves, "diverged_runs": diverged, "verdicts": verdicts}


#: the lecture's variants in words
LECTURE_WORDS = {"default": "PyTorch default init", "zero_first": "first layer zero, ReLU",
                 "all_zero": "all zero", "all_ones": "all ones (exact products)",
                 "all_ones_blas_f32": "all ones (BLAS float32)", "zero_first_tanh": "first layer zero, tanh",
                 "zero_first_sigmoid": "first layer zero, sigmoid",
                 "zero_first_relu1": "first layer zero, ReLU with relu'(0) = 1",
                 "default_sgd": "PyTorch default init, plain SGD",
                 "zero_first_sgd": "first layer zero, ReLU, plain SGD"}


def lecture_figure(summary, info, out, seeds):
    """Test accuracy of every variant against the lecture's claims (a band per claimed range, a star for "≈ 10 %"),
    on two zoomed axes (the nets that learn, the ones that do not) so that no curve hides another; the all-ones
    losses on the right."""
    fig = outputs.plt.figure(figsize=(17, 7.5))
    grid = fig.add_gridspec(2, 3, width_ratios=[1.2, 0.62, 1], hspace=0.3, wspace=0.1)   # middle: the legends
    ax_hi, ax_lo, ax_l = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 2])
    names = [n for n in LECTURE_VARIANTS if summary["curves"][n]["test_acc"] is not None]
    learns = [n for n in names if summary["curves"][n]["test_acc"]["mean"][-1] > 0.5]
    epochs = LECTURE["epochs"] if not names else len(summary["curves"][names[0]]["test_acc"]["mean"])
    for group, ax in ((learns, ax_hi), ([n for n in names if n not in learns], ax_lo)):
        for k, name in enumerate(group):   # identical curves stay visible: each later one narrower, on top
            i = list(LECTURE_VARIANTS).index(name)
            band(ax, summary["curves"][name]["test_acc"], f"C{i}", LECTURE_WORDS[name], seeds_in_label=False,
                 linestyle="--" if "sgd" in name else "-",
                 linewidth=1.2 + 4.5 * (len(group) - 1 - k) / max(1, len(group) - 1),
                 alpha=0.9, zorder=2 + k)
    x = [0.6, epochs + 0.4]
    ax_hi.fill_between(x, 0.90, 0.95, color="C0", alpha=0.12, hatch="//", edgecolor="C0", linewidth=0,
                       label="published, lecture: default init 90–95 %")
    ax_lo.fill_between(x, 0.20, 0.40, color="C3", alpha=0.12, hatch="//", edgecolor="C3", linewidth=0,
                       label="published, lecture: all ones 20–40 %")
    plotting.published(ax_lo, [epochs], [0.10], "lecture", "all zero ≈ 10 %", color="C2")
    lowest = min([0.85] + [min(summary["curves"][n]["test_acc"]["min"]) for n in learns])
    ax_hi.set_ylim(lowest - 0.02, 0.985)
    ax_lo.set_ylim(0.05, 0.45)
    ax_hi.set_title("the nets that learn", fontsize=9)
    ax_lo.set_title("the nets that do not (curves at one level drawn narrower on top of each other)", fontsize=9)
    for ax in (ax_hi, ax_lo):
        ax.set_xlim(*x)
        ax.set_ylabel("test accuracy")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        plotting.legend_outside(ax, fontsize=7, title=f"ours: mean of {seeds} seeds, min–max band", title_fontsize=7)
    for name, color in (("all_ones", "C3"), ("all_ones_blas_f32", "C4")):
        for key, style in (("train_loss", "-"), ("test_loss", "--")):
            c = summary["curves"][name][key]
            if c is not None:
                band(ax_l, c, color, f"{LECTURE_WORDS[name]}, {key.replace('_', ' ')}", linestyle=style,
                     seeds_in_label=False)
    plotting.log_axis(ax_l, "y", "cross-entropy loss")
    ax_l.set_xlabel("epoch")
    ax_l.set_title("all ones: the loss is still falling from ~200 (one unit per layer)", fontsize=9)
    ax_l.grid(True, which="both", alpha=0.3)
    plotting.legend_outside(ax_l, "below", fontsize=7, title=f"mean of {seeds} seeds, min–max band",
                            title_fontsize=7)
    fig.suptitle(f"lecture's demo reproduced: 784-128-64-10, x→(x−0.1307)/0.3081, Adam lr {LECTURE['lr']} "
                 f"(plain SGD lr {LECTURE['sgd_lr']} dashed), batch {LECTURE['batch']} — {info['source']} "
                 f"({info['n_train']:,}/{info['n_test']:,})", fontsize=9)
    outputs.save_figure(fig, out / "lecture_inits.png")
