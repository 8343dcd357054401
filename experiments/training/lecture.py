"""The lecture's Adam demo: 784-128-64-10 ReLU under PyTorch's default, zero and all-ones inits."""
import math

from .. import _outputs as outputs
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


def lecture_figure(summary, info, out, seeds):
    fig, (ax, ax_l) = outputs.plt.subplots(1, 2, figsize=(13, 4.8))
    for i, name in enumerate(LECTURE_VARIANTS):
        c = summary["curves"][name]["test_acc"]
        if c is not None:
            band(ax, c, f"C{i}", name, linestyle="--" if "sgd" in name else "-")
    for name, color in (("all_ones", "C3"), ("all_ones_blas_f32", "C4")):
        for key, style in (("train_loss", "-"), ("test_loss", "--")):
            c = summary["curves"][name][key]
            if c is not None:
                band(ax_l, c, color, f"{name} {key.replace('_', ' ')}", linestyle=style)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"mean and min–max band over {seeds} seeds", fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(0.0, 0.62))
    ax_l.set_yscale("log")
    ax_l.set_ylabel("loss (log axis)")
    ax_l.set_title("all ones: loss", fontsize=9)
    ax_l.legend(fontsize=7)
    for a in (ax, ax_l):
        a.set_xlabel("epoch")
    fig.suptitle(f"784-128-64-10, x→(x−0.1307)/0.3081, Adam lr {LECTURE['lr']} "
                 f"(SGD lr {LECTURE['sgd_lr']} dashed), "
                 f"batch {LECTURE['batch']} — {info['source']} ({info['n_train']:,}/{info['n_test']:,})", fontsize=9)
    outputs.save_figure(fig, out / "lecture_inits.png")
