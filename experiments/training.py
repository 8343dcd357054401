"""The published MNIST training studies, reproduced with multi-seed bands and a verdict per claim.

Run:  python -m experiments.training            (full run; writes figures/ and figures/training.json)
      python -m experiments.training --quick    (seconds; the same files in figures/quick/)

Studies (``--study NAME``, repeatable; default all three):

init-bench   init-bench's figures 5 and 6: 784 → 5×100 ReLU → 10, softmax cross-entropy, plain SGD lr 0.01,
             8 epochs, the first 10,000 training / first 2,000 test images (offline: the bundled t10k split,
             first 8,000 / last 2,000). Batch size is not stated in the study: batch 100 here, with a panel for
             batch 32/64/128. Inits as the study defines them: N(0, 0.01²); its "Xavier" N(0, 1/n_in), which is
             LeCun normal (labelled so), with Glorot normal N(0, 2/(n_in + n_out)) beside it; He N(0, 2/n_in);
             biases 0. Figures compare_train_loss.png and compare_test_accuracy.png.
lecture      the lecture's Adam demo: 784-128-64-10 ReLU, inputs (x − 0.1307)/0.3081, Adam lr 1e-3, batch 64,
             10 epochs, the full training set when OpenML/cache has it (offline: the bundled split, first 8,000
             / last 2,000). Inits: PyTorch's Linear default, zero first layer, all zero, all ones; plus zero
             first layer for tanh, sigmoid and relu'(0) = 1, and under SGD. Figure lecture_inits.png.
allzero      why init-bench's all-zero 784-100-10 sigmoid net (SGD lr 0.1, 5 epochs) reached 0.245: the
             candidates batch size, more epochs, float32 BLAS round-off, input normalization and the training-set
             size, measured, and the ceiling of the one-hidden-unit net it is equivalent to. Figure
             allzero_escape.png.

Every run is a task for ``_common.parallel_map`` (joblib, one BLAS thread per task): ``--jobs N`` gives the same
JSON as ``--jobs 1``, byte for byte, apart from the "timing" entry; ``joblib.parallel_config(backend="dask")``
around ``main`` sends the runs to a Dask cluster. A run whose loss turns NaN/inf is recorded as diverged, with
its epoch and step, and the others go on.
"""
import math
import time

import numpy as np

import npnet
from npnet import data as npdata
from npnet import probes

from . import _common as common
from . import _plotting as plotting

STUDIES = ("init-bench", "lecture", "allzero")
NORMALIZE = (0.1307, 0.3081)          # the lecture's transforms.Normalize((0.1307,), (0.3081,))

# ---------------------------------------------------------------- study 1: init-bench, deep ReLU (figures 5, 6)

BENCH = {"sizes": [784, 100, 100, 100, 100, 100, 10], "lr": 0.01, "batch": 100, "epochs": 8, "quick_epochs": 3,
         "n": (10_000, 2_000), "quick_n": (2_000, 300)}
BENCH_BATCHES = (32, 64, 128)        # the extra panel: batch size is not stated in the study
QUICK_BENCH_BATCHES = (32,)
#: label → (weight init spec, formula); biases 0
BENCH_INITS = {
    "std0.01": (("normal", {"std": 0.01}), "W ~ N(0, 0.01²), b = 0"),
    "lecun": ("lecun_normal", "W ~ N(0, 1/n_in), b = 0 — the study's \"Xavier (1/√n)\"; this is LeCun normal"),
    "glorot": ("xavier_normal", "W ~ N(0, 2/(n_in + n_out)), b = 0 — Glorot & Bengio's Xavier normal"),
    "he": ("he_normal", "W ~ N(0, 2/n_in), b = 0"),
}
BENCH_LABELS = {"std0.01": "std 0.01", "lecun": "LeCun N(0,1/n) = study's \"Xavier\"",
                "glorot": "Glorot normal (true Xavier)", "he": "He N(0,2/n)"}
#: the study's printed values (PyTorch, float32, seed 0, one run): {init: {key: {epoch: value}}}
BENCH_PUBLISHED = {
    "std0.01": {"train_loss": {1: 2.3025, 8: 2.3010}, "test_acc": {e: 0.117 for e in range(1, 9)}},
    "lecun": {"train_loss": {1: 2.2327, 8: 0.3274}, "test_acc": {1: 0.363, 8: 0.876}},
    "he": {"train_loss": {1: 1.4674, 8: 0.2146}, "test_acc": {1: 0.693, 8: 0.887}},
}

# ---------------------------------------------------------------- study 2: the lecture's Adam demo

LECTURE = {"sizes": [784, 128, 64, 10], "lr": 1e-3, "sgd_lr": 0.01, "batch": 64, "epochs": 10, "quick_epochs": 2,
           "n": (60_000, 10_000), "offline_n": (10_000, 2_000), "quick_n": (1_000, 300)}
_TORCH = "torch_default"
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

# ---------------------------------------------------------------- study 3: init-bench's all-zero sigmoid net

ALLZERO = {"sizes": [784, 100, 10], "lr": 0.1, "batch": 100, "epochs": 15, "quick_epochs": 2, "study_epochs": 5,
           "n": BENCH["n"], "quick_n": BENCH["quick_n"], "ceiling_lr": 0.01, "ceiling_epochs": 60}
ALLZERO_BATCHES = (32, 64, 100, 128)
ALLZERO_PUBLISHED = {1: 0.117, 5: 0.245}
#: candidate → (batch, products, dtype, normalize) for the 784-100-10 all-zero sigmoid net
ALLZERO_CANDIDATES = {
    **{f"batch{b}": (b, "exact", "float64", False) for b in ALLZERO_BATCHES},
    "blas_f32": (100, "blas", "float32", False),
    "normalized": (100, "exact", "float64", True),
}


def task(study, variant, seed, *, sizes, init, bias, activation, optimizer, lr, batch, epochs, data, carve,
         formula, relu0=0.0, products="blas", dtype="float64"):
    """One training run, as a picklable dict: ``data`` holds the keyword arguments of ``load_data`` and ``carve``
    describes them (source and which images)."""
    return {"study": study, "variant": variant, "seed": seed, "sizes": sizes, "init": init, "bias": bias,
            "formula": formula, "activation": activation, "relu_grad_at_zero": relu0, "optimizer": optimizer,
            "lr": lr, "batch_size": batch, "epochs": epochs, "products": products, "dtype": dtype,
            "data": {**data, "dtype": dtype}, "carve": carve}


_DATA = {}   # per worker process: (source, n_train, n_test, dtype, normalize) → arrays


def load_data(source, n_train, n_test, dtype, normalize):
    """The studies' unshuffled carve, as arrays (cached per process); ``normalize`` applies (x − 0.1307)/0.3081."""
    key = (source, n_train, n_test, dtype, normalize)
    if key not in _DATA:
        split = npdata.load_mnist(n_train, n_test, seed=0, source=source, subset="first", dtype=dtype,
                                  verbose=False)
        X, Xt = split.X_train, split.X_test
        if normalize:
            mean, std = (np.asarray(v, dtype=dtype) for v in NORMALIZE)
            X, Xt = (X - mean) / std, (Xt - mean) / std
        _DATA[key] = (X, split.y_train, Xt, split.y_test)
    return _DATA[key]


def build(t):
    """The network of task ``t`` (its init draws come from the seed's first stream)."""
    init_rng = np.random.default_rng([t["seed"], 0])
    return npnet.mlp(t["sizes"], t["activation"], t["init"], t["bias"], rng=init_rng, dtype=np.dtype(t["dtype"]).type,
                     products=t["products"], relu_grad_at_zero=t["relu_grad_at_zero"])


def run_one(t):
    """Train task ``t``; return (record, (wall seconds, CPU seconds)).

    The record holds per-epoch train loss, test loss and test accuracy, the distinct rows of every hidden layer's
    W, the parameters that changed or are nonzero at the end, and ``diverged`` = {epoch, step, message} or None.
    """
    start, start_cpu = time.perf_counter(), time.process_time()
    X, y, Xt, yt = load_data(**t["data"])
    net = build(t)
    before = net.get_weights()
    opt = npnet.SGD(net, lr=t["lr"]) if t["optimizer"] == "sgd" else npnet.Adam(net, lr=t["lr"])
    steps_per_epoch = math.ceil(len(y) / t["batch_size"])
    series = {"epoch": [], "train_loss": [], "test_loss": [], "test_acc": [], "distinct_rows": []}
    last = [0, steps_per_epoch]       # (epoch, step) of the last finite step

    def on_step(epoch, step, net, value):
        last[:] = [epoch, step]

    def on_epoch(epoch, net, history):
        ev = npnet.evaluate(net, Xt, yt, loss="softmax_cross_entropy")
        series["epoch"].append(epoch)
        series["train_loss"].append(history["train_loss"][-1])
        series["test_loss"].append(ev["loss"])
        series["test_acc"].append(ev["accuracy"])
        series["distinct_rows"].append([probes.distinct_rows(layer.W) for layer in net.dense[:-1]])

    diverged = None
    try:
        npnet.train(net, X, y, optimizer=opt, epochs=t["epochs"], batch_size=t["batch_size"],
                    rng=np.random.default_rng([t["seed"], 1]), eval_train=False, on_epoch=on_epoch, on_step=on_step)
    except FloatingPointError as exc:
        epoch, step = last if last[1] < steps_per_epoch else (last[0] + 1, 1)
        diverged = {"epoch": epoch, "step": step, "message": str(exc)}
    after = net.get_weights()
    record = {k: v for k, v in t.items() if k not in ("init", "bias", "formula", "data", "carve")}
    record.update(init={"weights": repr(t["init"]), "biases": repr(t["bias"]), "formula": t["formula"]},
                  data={"carve": t["carve"], "n_train": len(y), "n_test": len(yt),
                        "normalized": t["data"]["normalize"]},
                  steps_per_epoch=steps_per_epoch, **series, diverged=diverged,
                  changed_params=[k for k in after if not np.array_equal(after[k], before[k])],
                  nonzero_params=[k for k in after if np.any(after[k] != 0)])
    return record, (time.perf_counter() - start, time.process_time() - start_cpu)


# ---------------------------------------------------------------- the runs of each study

def bench_tasks(data, carve, seeds, epochs, batches=BENCH_BATCHES):
    """init-bench: every init at batch 100 (the main figures) and at batch 32/64/128 (the extra panel)."""
    return [task("init-bench", name, seed, sizes=BENCH["sizes"], init=spec, bias="zeros", activation="relu",
                 optimizer="sgd", lr=BENCH["lr"], batch=batch, epochs=epochs, data=data, carve=carve, formula=formula)
            for batch in (BENCH["batch"], *batches)
            for name, (spec, formula) in BENCH_INITS.items() for seed in seeds]


def lecture_tasks(data, carve, seeds, epochs):
    out = []
    for name, (inits, biases, act, relu0, opt, products, dtype, formula) in LECTURE_VARIANTS.items():
        lr = LECTURE["sgd_lr"] if opt == "sgd" else LECTURE["lr"]
        out += [task("lecture", name, seed, sizes=LECTURE["sizes"], init=inits, bias=biases, activation=act,
                     relu0=relu0, optimizer=opt, lr=lr, batch=LECTURE["batch"], epochs=epochs, products=products,
                     dtype=dtype, data=data, carve=carve, formula=formula) for seed in seeds]
    return out


def allzero_tasks(data, carve, seeds, epochs, ceiling_epochs):
    out = []
    for name, (batch, products, dtype, normalize) in ALLZERO_CANDIDATES.items():
        out += [task("allzero", name, seed, sizes=ALLZERO["sizes"], init="zeros", bias="zeros", activation="sigmoid",
                     optimizer="sgd", lr=ALLZERO["lr"], batch=batch, epochs=epochs, products=products, dtype=dtype,
                     data={**data, "normalize": normalize}, carve=carve, formula="every W and b = 0")
                for seed in seeds]
    # what the all-zero net is equivalent to, trained as well as it can be: one sigmoid hidden unit
    out += [task("allzero", "one_unit_ceiling", seed, sizes=[784, 1, 10], init=_TORCH, bias=_TORCH,
                 activation="sigmoid", optimizer="adam", lr=ALLZERO["ceiling_lr"], batch=ALLZERO["batch"],
                 epochs=ceiling_epochs, data=data, carve=carve,
                 formula="784-1-10 sigmoid, PyTorch default init, Adam lr 0.01") for seed in seeds]
    return out


# ---------------------------------------------------------------- summaries and verdicts

def runs_of(records, study, variant=None, **match):
    return [r for r in records if r["study"] == study and (variant is None or r["variant"] == variant)
            and all(r[k] == v for k, v in match.items())]


def stats(values):
    values = np.asarray(values, dtype=float)
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max()), "n": int(len(values))}


def complete(runs):
    return [r for r in runs if r["diverged"] is None]


def curve(runs, key):
    """Per-epoch mean, min and max of ``key`` over the runs that did not diverge (None if there are none)."""
    runs = complete(runs)
    if not runs:
        return None
    values = np.array([r[key] for r in runs], dtype=float)
    return {"mean": values.mean(axis=0).tolist(), "min": values.min(axis=0).tolist(),
            "max": values.max(axis=0).tolist(), "n": len(runs)}


def compare(published, ours, tol):
    """Verdict on one published number against our seeds: 'matches' when it is within max(2 SD, tol) of our mean."""
    gap = published - ours["mean"]
    if abs(gap) <= max(2 * ours["sd"], tol):
        verdict = "matches"
    else:
        verdict = "published higher" if gap > 0 else "published lower"
    return {"published": published, "ours": ours, "verdict": verdict}


TOLERANCE = {"train_loss": 0.05, "test_acc": 0.02}


def at_epoch(runs, key, epoch):
    return stats([r[key][epoch - 1] for r in complete(runs)])


def bench_summary(records, epochs, ones_share, test_shares):
    main = runs_of(records, "init-bench", batch_size=BENCH["batch"])
    curves = {str(b): {name: {key: curve(runs_of(records, "init-bench", name, batch_size=b), key)
                              for key in ("train_loss", "test_loss", "test_acc")}
                       for name in BENCH_INITS} for b in (BENCH["batch"], *BENCH_BATCHES)}
    verdicts = []
    for name, published in BENCH_PUBLISHED.items():
        runs = [r for r in main if r["variant"] == name]
        for key, values in published.items():
            for epoch in sorted({1, max(values)}):
                if epoch <= epochs and complete(runs):
                    verdicts.append({"init": name, "quantity": key, "epoch": epoch,
                                     **compare(values[epoch], at_epoch(runs, key, epoch), TOLERANCE[key])})
    # the study does not state its batch: which batch size's mean comes closest to each published number
    for v in verdicts:
        means = {b: at_epoch(runs_of(records, "init-bench", v["init"], batch_size=b), v["quantity"], v["epoch"])["mean"]
                 for b in (BENCH["batch"], *BENCH_BATCHES)
                 if complete(runs_of(records, "init-bench", v["init"], batch_size=b))}
        v["mean_by_batch"] = {str(b): m for b, m in means.items()}
        v["closest_batch"] = min(means, key=lambda b: abs(means[b] - v["published"]))
    he, lecun = ({r["seed"]: r for r in main if r["variant"] == v and r["diverged"] is None} for v in ("he", "lecun"))
    seeds = sorted(set(he) & set(lecun))
    faster = {
        "claim": "He learns fastest (lower train loss than the study's \"Xavier\" after epoch 1, "
                 "higher final accuracy)",
        "seeds": len(seeds),
        "he_lower_loss_epoch1": sum(he[s]["train_loss"][0] < lecun[s]["train_loss"][0] for s in seeds),
        "he_higher_acc_final": sum(he[s]["test_acc"][-1] > lecun[s]["test_acc"][-1] for s in seeds),
    }
    faster["verdict"] = "confirmed" if seeds and faster["he_lower_loss_epoch1"] == len(seeds) else "not confirmed"
    std = [r for r in main if r["variant"] == "std0.01" and r["diverged"] is None]
    stuck = {
        "claim": "std 0.01 does not learn: test accuracy 0.117 at every epoch",
        "explanation": "0.117 is the share of digit 1 among the first 2,000 MNIST test images (the study's test "
                       "set): the net predicts the same class for every image",
        "share_of_digit_1_in_first_2000_test_images": ones_share,
        "our_test_class_shares": test_shares,
        "our_accuracy_is_one_class_share_every_epoch": bool(std) and all(set(r["test_acc"]) <= set(test_shares)
                                                                          for r in std),
    }
    return {"batch": BENCH["batch"], "curves": curves, "verdicts": verdicts, "he_fastest": faster,
            "std0.01_one_class": stuck}


def in_range(value, low, high):
    return "confirmed" if low <= value <= high else ("above the range" if value > high else "below the range")


def lecture_summary(records, test_shares):
    finals = {name: stats([r["test_acc"][-1] for r in complete(runs_of(records, "lecture", name))])
              for name in LECTURE_VARIANTS if complete(runs_of(records, "lecture", name))}
    curves = {name: {key: curve(runs_of(records, "lecture", name), key) for key in ("train_loss", "test_loss",
                                                                                     "test_acc")}
              for name in LECTURE_VARIANTS}
    diverged = {name: sum(r["diverged"] is not None for r in runs_of(records, "lecture", name))
                for name in LECTURE_VARIANTS}

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
            "verdict": ("≈ 10 % confirmed; 'only zeros' wrong: the output bias learns" if nonzero == ["fc3.b"]
                        else "see numbers"),
            "reason": "hidden outputs are ReLU(0) = 0 and W3 = 0, so every gradient but the output bias's is exactly "
                      "0; the output bias learns the class frequencies, so the net predicts the most frequent "
                      f"training class for every image (test accuracy = that class's share, max share "
                      f"{max(test_shares):.3f})"})
    for name in ("all_ones", "all_ones_blas_f32"):
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


def steps_to_reach(run, level):
    """SGD steps until the end of the first epoch whose test accuracy is ≥ level (None if never)."""
    for epoch, acc in zip(run["epoch"], run["test_acc"]):
        if acc >= level:
            return epoch * run["steps_per_epoch"]
    return None


def step_curve(runs):
    """(steps at the end of each epoch, mean test accuracy over the runs there)."""
    return (np.asarray(runs[0]["epoch"]) * runs[0]["steps_per_epoch"],
            np.mean([r["test_acc"] for r in runs], axis=0))


def crossing_step(runs, level):
    """The SGD step where the mean accuracy curve first reaches ``level``, linear between epochs (None if never)."""
    x, y = step_curve(runs)
    above = np.flatnonzero(y >= level)
    if not len(above):
        return None
    i = above[0]
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (x[i] - x[i - 1]))


def allzero_summary(records, data_n_train, constant_level):
    """Each candidate explanation of init-bench's all-zero 0.117 → 0.245, measured.

    The study trained on 10,000 images: its epoch 5 is step 5·⌈10000/B⌉. Offline we have 8,000, so each
    candidate is judged at that step on its own accuracy-vs-steps curve (on 10,000 images, at epoch 5 itself).
    """
    target, first = ALLZERO_PUBLISHED[5], ALLZERO_PUBLISHED[1]
    study_epochs, n_study = ALLZERO["study_epochs"], ALLZERO["n"][0]
    candidates = {}
    for name in ALLZERO_CANDIDATES:
        runs = complete(runs_of(records, "allzero", name))
        if not runs:
            continue
        batch = runs[0]["batch_size"]
        study_step = study_epochs * math.ceil(n_study / batch)
        x, y = step_curve(runs)
        at_study = float(np.interp(study_step, x, y)) if study_step <= x[-1] else None
        cross = crossing_step(runs, target)
        acc1 = at_epoch(runs, "test_acc", 1)
        fits = (at_study is not None and acc1["mean"] <= constant_level + 0.02
                and abs(at_study - target) <= 0.03)
        candidates[name] = {
            "batch_size": batch, "products": runs[0]["products"], "dtype": runs[0]["dtype"],
            "normalized": runs[0]["data"]["normalized"], "steps_per_epoch": runs[0]["steps_per_epoch"],
            "test_acc_epoch1": acc1,
            "test_acc_epoch5": at_epoch(runs, "test_acc", min(study_epochs, runs[0]["epochs"])),
            "test_acc_final": at_epoch(runs, "test_acc", runs[0]["epochs"]),
            "study_step_epoch5_on_10000_images": study_step,
            "test_acc_at_study_step": at_study,
            "steps_to_reach_published_per_seed": [steps_to_reach(r, target) for r in runs],
            "mean_curve_reaches_published_at_step": cross,
            "implied_batch_for_published": None if cross is None else study_epochs * n_study / cross,
            "distinct_hidden_units_final": sorted({r["distinct_rows"][-1][0] for r in runs}),
            "fits_published": bool(fits)}
    ceiling_runs = complete(runs_of(records, "allzero", "one_unit_ceiling"))
    best_zero = max((max(r["test_acc"]) for r in records if r["study"] == "allzero" and r["diverged"] is None
                     and r["variant"] != "one_unit_ceiling"), default=None)
    f32, exact = candidates.get("blas_f32"), candidates.get(f"batch{ALLZERO['batch']}")
    sweep = {n: c for n, c in candidates.items() if n.startswith("batch")}
    implied = [c["implied_batch_for_published"] for c in sweep.values() if c["implied_batch_for_published"]]
    explanations = {
        "float32_round_off": None if not (f32 and exact) else {
            "distinct_hidden_units_final": f32["distinct_hidden_units_final"],
            "test_acc_final_blas_f32": f32["test_acc_final"]["mean"],
            "test_acc_final_exact": exact["test_acc_final"]["mean"],
            "fits": f32["fits_published"],
            "finding": "the units do split in float32 BLAS, but the accuracy is the exact net's: round-off does "
                       "not explain 0.245"},
        "batch_size_and_epochs": {
            "steps_to_reach_published": {n: c["mean_curve_reaches_published_at_step"] for n, c in sweep.items()},
            "implied_batch_on_10000_images": implied,
            "finding": "the all-zero net needs about the same number of SGD steps to reach 0.245 whatever the "
                       "batch; batch and epochs matter only through the number of steps"},
        "normalized_inputs": None if "normalized" not in candidates else {
            "steps_to_reach_published": candidates["normalized"]["mean_curve_reaches_published_at_step"],
            "implied_batch_on_10000_images": candidates["normalized"]["implied_batch_for_published"]},
        "ten_thousand_images": {"available": data_n_train >= n_study,
                                "note": "judged at step 5·⌈10000/B⌉ of each curve" if data_n_train < n_study
                                else "the runs use 10,000 images"},
    }
    return {"published": {str(k): v for k, v in ALLZERO_PUBLISHED.items()}, "published_epoch1_is_constant": first,
            "constant_prediction_level": constant_level, "candidates": candidates,
            "one_unit_net_best_test_acc": stats([max(r["test_acc"]) for r in ceiling_runs]) if ceiling_runs else None,
            "all_zero_best_test_acc": best_zero, "explanations": explanations,
            "fitting_candidates": [n for n, c in candidates.items() if c["fits_published"]],
            "curves": {n: curve(runs_of(records, "allzero", n), "test_acc") for n in (*ALLZERO_CANDIDATES,
                                                                                       "one_unit_ceiling")}}


# ---------------------------------------------------------------- figures

BATCH_STYLES = {32: ":", 64: "--", 100: "-", 128: "-."}
BENCH_SHORT = {"std0.01": "std 0.01", "lecun": "LeCun", "glorot": "Glorot", "he": "He"}
#: the lecture's variants in words
LECTURE_WORDS = {"default": "PyTorch default init", "zero_first": "first layer zero, ReLU",
                 "all_zero": "all zero", "all_ones": "all ones (exact products)",
                 "all_ones_blas_f32": "all ones (BLAS float32)", "zero_first_tanh": "first layer zero, tanh",
                 "zero_first_sigmoid": "first layer zero, sigmoid",
                 "zero_first_relu1": "first layer zero, ReLU with relu'(0) = 1",
                 "default_sgd": "PyTorch default init, plain SGD", "zero_first_sgd": "first layer zero, ReLU, plain SGD"}
#: the all-zero study's candidates in words
ALLZERO_WORDS = {**{f"batch{b}": f"batch {b}" for b in ALLZERO_BATCHES}, "blas_f32": "batch 100, BLAS float32",
                 "normalized": "batch 100, normalized inputs"}


def band(ax, c, color, label, linestyle="-", x=None, seeds_in_label=True, **line):
    """Mean line and a min–max band over seeds (x: epochs 1, 2, … unless given); the label gets the seed count
    (unless the legend's title says it)."""
    if x is None:
        x = np.arange(1, len(c["mean"]) + 1)
        ax.xaxis.set_major_locator(common.plt.MaxNLocator(integer=True))
    return plotting.ours(ax, x, c["mean"], c["min"], c["max"], label=label, seeds=c["n"] if seeds_in_label else None,
                         color=color, linestyle=linestyle, **line)


def bench_figures(summary, info, out, seeds):
    inits = list(BENCH_INITS)
    for key, name, ylabel in (("train_loss", "compare_train_loss.png", "train loss (mean over the epoch)"),
                              ("test_acc", "compare_test_accuracy.png", "test accuracy (share of test images)")):
        fig, (ax, ax_b) = common.plt.subplots(1, 2, figsize=(14, 5.2))
        for i, init in enumerate(inits):
            c = summary["curves"][str(BENCH["batch"])][init][key]
            if c is not None:
                band(ax, c, f"C{i}", BENCH_LABELS[init], seeds_in_label=False)
            pub = BENCH_PUBLISHED.get(init, {}).get(key, {})
            if pub:       # stars of different inits at one epoch sit side by side, in their init's colour
                plotting.published(ax, plotting.dodge(list(pub), i, len(inits), 0.5), list(pub.values()),
                                   "init-bench (PyTorch, 1 run)", BENCH_LABELS[init], color=f"C{i}")
            for b in (*BENCH_BATCHES, BENCH["batch"]):
                c = summary["curves"][str(b)][init][key]
                if c is not None:
                    ax_b.plot(np.arange(1, len(c["mean"]) + 1), c["mean"], color=f"C{i}", linestyle=BATCH_STYLES[b],
                              label=f"{BENCH_SHORT[init]}, batch {b}")
                    ax_b.xaxis.set_major_locator(common.plt.MaxNLocator(integer=True))
        ax.set_title(f"batch {BENCH['batch']}: mean and min–max band over {seeds} seeds; stars: published", fontsize=9)
        ax_b.set_title(f"mean over {seeds} seeds, by batch size (the study does not state its batch)", fontsize=9)
        for a in (ax, ax_b):
            a.set_xlabel("epoch")
            a.set_ylabel(ylabel)
            a.grid(True, alpha=0.3)
        handles = [h for h in ax.get_legend_handles_labels()[0] if not h.get_label().startswith("published")]
        handles.append(plotting.published_key("init-bench (PyTorch, 1 run)", "star in its init's colour"))
        plotting.legend_outside(ax, "below", handles=handles, ncol=2,
                                title=f"ours: mean of {seeds} seeds, min–max band", title_fontsize=8)
        plotting.legend_outside(ax_b, "below", ncol=4, fontsize=7)
        fig.suptitle(f"init-bench figure {5 if key == 'train_loss' else 6} reproduced: 784-5×100-10 ReLU, SGD lr "
                     f"{BENCH['lr']} — {info['source']} ({info['n_train']:,}/{info['n_test']:,})", fontsize=9)
        common.save_figure(fig, out / name)


def lecture_figure(summary, info, out, seeds):
    """Test accuracy of every variant against the lecture's claims (a band per claimed range, a star for "≈ 10 %"),
    on two zoomed axes (the nets that learn, the ones that do not) so that no curve hides another; the all-ones
    losses on the right."""
    fig = common.plt.figure(figsize=(17, 7.5))
    grid = fig.add_gridspec(2, 3, width_ratios=[1.2, 0.62, 1], hspace=0.3, wspace=0.1)   # middle: the legends
    ax_hi, ax_lo, ax_l = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[:, 2])
    names = [n for n in LECTURE_VARIANTS if summary["curves"][n]["test_acc"] is not None]
    learns = [n for n in names if summary["curves"][n]["test_acc"]["mean"][-1] > 0.5]
    epochs = LECTURE["epochs"] if not names else len(summary["curves"][names[0]]["test_acc"]["mean"])
    for group, ax in ((learns, ax_hi), ([n for n in names if n not in learns], ax_lo)):
        for k, name in enumerate(group):   # identical curves stay visible: each later one narrower, on top
            i = list(LECTURE_VARIANTS).index(name)
            band(ax, summary["curves"][name]["test_acc"], f"C{i}", LECTURE_WORDS[name], seeds_in_label=False,
                 linestyle="--" if "sgd" in name else "-", linewidth=1.2 + 4.5 * (len(group) - 1 - k) / max(1, len(group) - 1),
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
    common.save_figure(fig, out / "lecture_inits.png")


def allzero_figure(summary, records, info, out, seeds):
    fig, (ax, ax_s) = common.plt.subplots(1, 2, figsize=(14, 5.2))
    for i, name in enumerate(ALLZERO_CANDIDATES):
        runs = complete(runs_of(records, "allzero", name))
        c = summary["curves"][name]
        if c is None:
            continue
        style = "--" if name in ("blas_f32", "normalized") else "-"
        # batch 100 and its BLAS float32 twin coincide: the exact one wide underneath, the other dashed on top
        width = dict(linewidth=4, alpha=0.6) if name == "batch100" else dict(linewidth=1.5)
        band(ax, c, f"C{i}", ALLZERO_WORDS[name], linestyle=style, seeds_in_label=False, **width)
        band(ax_s, c, f"C{i}", ALLZERO_WORDS[name], linestyle=style, seeds_in_label=False,
             x=np.arange(1, len(c["mean"]) + 1) * runs[0]["steps_per_epoch"], **width)
    ceiling = summary.get("one_unit_net_best_test_acc")
    if ceiling:          # trained for many more epochs than the rest: its best, as a level, not its curve
        ax.axhspan(ceiling["min"], ceiling["max"], color="C6", alpha=0.12, linewidth=0)
        ax.axhline(ceiling["mean"], color="C6", linestyle=":", linewidth=1.5,
                   label=f"one hidden unit (784-1-10, random start, Adam): best accuracy in "
                         f"{ALLZERO['ceiling_epochs']} epochs, mean and range of {ceiling['n']} seeds")
    pub = ALLZERO_PUBLISHED
    for a in (ax, ax_s):
        a.axhline(pub[5], color="0.4", linewidth=0.8, linestyle=(0, (1, 3)),
                  label=f"the published {pub[5]} (init-bench, epoch 5), as a level")
        a.set_ylabel("test accuracy")
        a.grid(True, which="both", alpha=0.3)
    plotting.published(ax, list(pub), list(pub.values()), "init-bench (PyTorch float32)", "all-zero net",
                       color="C2")
    ax.set_xlabel("epoch")
    plotting.log_axis(ax_s, "x", "SGD steps")
    ax.set_title(f"mean and min–max band over {seeds} seeds", fontsize=9)
    ax_s.set_title("the same runs against SGD steps: what moves the all-zero net is the number of steps", fontsize=9)
    plotting.figure_legend(fig, ax.get_legend_handles_labels()[0], ncol=3, y=0.0,
                           title=f"ours: mean of {seeds} seeds, min–max band (both panels)", title_fontsize=8)
    fig.subplots_adjust(bottom=0.13)
    fig.suptitle(f"Why init-bench's all-zero net reached 0.245: 784-100-10 sigmoid, all W and b zero, SGD lr "
                 f"{ALLZERO['lr']} — {info['source']} ({info['n_train']:,}/{info['n_test']:,})", fontsize=9)
    common.save_figure(fig, out / "allzero_escape.png")


# ---------------------------------------------------------------- main

def study_data(args, progress, n_train, n_test, fallback=None):
    """Load the studies' unshuffled carve once in the parent (to check it and say which it is); the workers
    reload it from the same resolved source."""
    try:
        split = common.load_mnist(args, n_train, n_test, subset="first")
    except common.UsageError:
        if fallback is None:
            raise
        split = common.load_mnist(args, *fallback, subset="first")
    kind = split.info["source_kind"]
    source = {"bundled": "bundled", "cache": "openml", "openml": "openml"}.get(kind, split.info["requested_source"])
    progress(f"data: {split.source}" + (f" ({split.info['notice']})" if split.info["notice"] else ""))
    ref = {"source": source, "n_train": split.info["n_train"], "n_test": split.info["n_test"], "normalize": False}
    shares = (np.bincount(split.y_test, minlength=10) / len(split.y_test)).tolist()
    return ref, split.info, shares


def first_2000_ones_share():
    """Share of digit 1 among the first 2,000 images of the MNIST test split (init-bench's test set), from the
    bundled genuine t10k files."""
    y = npdata.load_mnist(2_000, 1, seed=0, source="bundled", subset="first", verbose=False).y_train
    return float(np.count_nonzero(y == 1) / len(y))


def parse(argv):
    p = common.parser("python -m experiments.training", __doc__.split("\n")[0], dtype=False, jobs=True,
                      seeds=5, quick_seeds=2)
    p.add_argument("--study", action="append", choices=STUDIES, default=None,
                   help="run only this study (repeatable; default: all); training.json then holds only the "
                        "studies run, so give another --out to keep the full run's file")
    args, out, progress = common.start(p, argv)
    args.study = [s for s in STUDIES if s in (args.study or STUDIES)]
    return args, out, progress


def progress_line(progress, total):
    def on_result(i, result):
        r, (seconds, _) = result
        end = (f"DIVERGED at epoch {r['diverged']['epoch']}, step {r['diverged']['step']}" if r["diverged"] else
               f"test acc {r['test_acc'][-1]:.3f}, train loss {r['train_loss'][-1]:.4g}")
        progress(f"[{i + 1}/{total}] {r['study']} {r['variant']} seed {r['seed']} batch {r['batch_size']}: {end} "
                 f"({seconds:.1f} s)")
    return on_result


def main(argv=None):
    args, out, progress = parse(argv)
    wall = time.perf_counter()
    seeds = [args.seed + i for i in range(args.seeds)]
    tasks, data_info, shares = [], {}, {}
    if "init-bench" in args.study or "allzero" in args.study:
        n = BENCH["quick_n"] if args.quick else BENCH["n"]
        ref, data_info["init-bench"], shares["init-bench"] = study_data(args, progress, *n)
        data_info["allzero"], shares["allzero"] = data_info["init-bench"], shares["init-bench"]
        carve = data_info["init-bench"]["source"]
        if "init-bench" in args.study:
            tasks += bench_tasks(ref, carve, seeds, BENCH["quick_epochs"] if args.quick else BENCH["epochs"],
                                 QUICK_BENCH_BATCHES if args.quick else BENCH_BATCHES)
        if "allzero" in args.study:
            epochs = ALLZERO["quick_epochs"] if args.quick else ALLZERO["epochs"]
            tasks += allzero_tasks(ref, carve, seeds, epochs,
                                   ALLZERO["quick_epochs"] if args.quick else ALLZERO["ceiling_epochs"])
    if "lecture" in args.study:
        n = LECTURE["quick_n"] if args.quick else LECTURE["n"]
        ref, data_info["lecture"], shares["lecture"] = study_data(args, progress, *n,
                                                                  fallback=None if args.quick else LECTURE["offline_n"])
        tasks += lecture_tasks({**ref, "normalize": True}, data_info["lecture"]["source"], seeds,
                               LECTURE["quick_epochs"] if args.quick else LECTURE["epochs"])
    progress(f"{len(tasks)} runs ({', '.join(args.study)}; {args.seeds} seeds) on {args.jobs} worker process(es)")
    results = common.parallel_map(run_one, tasks, args.jobs, on_result=progress_line(progress, len(tasks)))
    records = [r for r, _ in results]
    seconds = {s: {"wall": sum(sec[0] for r, sec in results if r["study"] == s),
                   "cpu": sum(sec[1] for r, sec in results if r["study"] == s)} for s in args.study}

    studies = {}
    if "init-bench" in args.study:
        epochs = BENCH["quick_epochs"] if args.quick else BENCH["epochs"]
        studies["init-bench"] = bench_summary(records, epochs, first_2000_ones_share(), shares["init-bench"])
        bench_figures(studies["init-bench"], data_info["init-bench"], out, args.seeds)
    if "lecture" in args.study:
        studies["lecture"] = lecture_summary(records, shares["lecture"])
        lecture_figure(studies["lecture"], data_info["lecture"], out, args.seeds)
    if "allzero" in args.study:
        # the net predicts one class until it escapes: the share of the most frequent test class is that level
        studies["allzero"] = allzero_summary(records, data_info["allzero"]["n_train"], max(shares["allzero"]))
        allzero_figure(studies["allzero"], records, data_info["allzero"], out, args.seeds)
    report(studies)
    total = time.perf_counter() - wall
    result = {
        "experiment": "training",
        "config": {"studies": args.study, "seeds": seeds, "quick": args.quick,
                   "init-bench": {**BENCH, "extra_batches": list(QUICK_BENCH_BATCHES if args.quick else BENCH_BATCHES),
                                  "inits": {k: v[1] for k, v in BENCH_INITS.items()}},
                   "lecture": {**LECTURE, "normalize": list(NORMALIZE),
                               "variants": {k: v[-1] for k, v in LECTURE_VARIANTS.items()}},
                   "allzero": {**ALLZERO, "batches": list(ALLZERO_BATCHES)}},
        "data": data_info,
        "published": {"init-bench": BENCH_PUBLISHED, "allzero": ALLZERO_PUBLISHED},
        "runs": records,
        "studies": studies,
        "timing": {"wall_seconds": total, "run_seconds_per_study": seconds, "jobs": args.jobs},
    }
    common.write_json(out / "training.json", jsonable(result))
    cpu = sum(v["cpu"] for v in seconds.values())
    progress(f"wrote {out}/training.json and the figures; total {total:.1f} s wall on {args.jobs} worker "
             f"process(es), {cpu:.1f} s CPU in the runs (the wall time grows with the machine's load)")


def jsonable(obj):
    """Dict keys as strings (epoch numbers are ints in the published tables)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def report(studies):
    """The verdicts, printed."""
    bench = studies.get("init-bench")
    if bench:
        print("\ninit-bench (batch 100): published vs ours (mean ± SD over seeds)")
        print(common.format_table(["init", "quantity", "epoch", "published", "ours", "min–max", "verdict",
                                   "mean at batch 32/64/128", "closest batch"], [
            [v["init"], v["quantity"], v["epoch"], v["published"], f"{v['ours']['mean']:.4f} ± {v['ours']['sd']:.4f}",
             f"{v['ours']['min']:.3f}–{v['ours']['max']:.3f}", v["verdict"],
             "/".join(f"{v['mean_by_batch'][str(b)]:.3f}" for b in BENCH_BATCHES if str(b) in v["mean_by_batch"]),
             v["closest_batch"]] for v in bench["verdicts"]]))
        f = bench["he_fastest"]
        print(f"He fastest: lower epoch-1 loss than LeCun in {f['he_lower_loss_epoch1']}/{f['seeds']} seeds, higher "
              f"final accuracy in {f['he_higher_acc_final']}/{f['seeds']}: {f['verdict']}")
        s = bench["std0.01_one_class"]
        print("std 0.01: share of digit 1 in the first 2,000 test images = "
              f"{s['share_of_digit_1_in_first_2000_test_images']}"
              f"; our accuracy is one class's share at every epoch: {s['our_accuracy_is_one_class_share_every_epoch']}")
    lecture = studies.get("lecture")
    if lecture:
        print("\nlecture: verdicts")
        for v in lecture["verdicts"]:
            ours = v["ours"]
            num = f"{ours['mean']:.3f} ({ours['min']:.3f}–{ours['max']:.3f})" if "mean" in ours else \
                ", ".join(f"{k} {x['final_test_acc']['mean']:.3f}" for k, x in ours.items())
            print(f"  {v['claim']} [{v['variant']}]: ours {num} → {v['verdict']}")
    allzero = studies.get("allzero")
    if allzero:
        print("\nallzero: the published all-zero sigmoid net: 0.117 after epoch 1, 0.245 after epoch 5 (10,000 images)")
        print(common.format_table(["candidate", "steps/epoch", "acc ep 1", "acc ep 5", "study's ep-5 step",
                                   "acc there", "reaches 0.245 at step", "implied batch", "distinct units", "fits"], [
            [n, c["steps_per_epoch"], f"{c['test_acc_epoch1']['mean']:.3f}",
             f"{c['test_acc_epoch5']['mean']:.3f} ± {c['test_acc_epoch5']['sd']:.3f}",
             c["study_step_epoch5_on_10000_images"], fmt(c["test_acc_at_study_step"]),
             fmt(c["mean_curve_reaches_published_at_step"], ".0f"), fmt(c["implied_batch_for_published"], ".0f"),
             c["distinct_hidden_units_final"], c["fits_published"]] for n, c in allzero["candidates"].items()]))
        one = allzero["one_unit_net_best_test_acc"]
        print(f"best test accuracy of any all-zero run: {fmt(allzero['all_zero_best_test_acc'])}; one hidden unit "
              f"(784-1-10, Adam): {fmt(one and one['mean'])}")


def fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.training"))
