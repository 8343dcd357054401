"""init-bench, figures 5 and 6: 784 → 5×100 ReLU → 10 under four inits, plain SGD, against the printed curves."""
import numpy as np

from npnet import data as npdata

from .. import _outputs as outputs
from .. import _plotting as plotting
from .._compare import against_seeds
from .runs import at_epoch, band, complete, curve, runs_of, task


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


def bench_tasks(data, carve, seeds, epochs, batches=BENCH_BATCHES):
    """init-bench: every init at batch 100 (the main figures) and at batch 32/64/128 (the extra panel)."""
    return [task("init-bench", name, seed, sizes=BENCH["sizes"], init=spec, bias="zeros", activation="relu",
                 optimizer="sgd", lr=BENCH["lr"], batch=batch, epochs=epochs, data=data, carve=carve, formula=formula)
            for batch in (BENCH["batch"], *batches)
            for name, (spec, formula) in BENCH_INITS.items() for seed in seeds]


TOLERANCE = {"train_loss": 0.05, "test_acc": 0.02}


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
                                     **against_seeds(values[epoch], at_epoch(runs, key, epoch), TOLERANCE[key])})
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


BATCH_STYLES = {32: ":", 64: "--", 100: "-", 128: "-."}


BENCH_SHORT = {"std0.01": "std 0.01", "lecun": "LeCun", "glorot": "Glorot", "he": "He"}


def bench_figures(summary, info, out, seeds):
    inits = list(BENCH_INITS)
    for key, name, ylabel in (("train_loss", "compare_train_loss.png", "train loss (mean over the epoch)"),
                              ("test_acc", "compare_test_accuracy.png", "test accuracy (share of test images)")):
        fig, (ax, ax_b) = outputs.plt.subplots(1, 2, figsize=(14, 5.2))
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
                    ax_b.xaxis.set_major_locator(outputs.plt.MaxNLocator(integer=True))
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
        outputs.save_figure(fig, out / name)


def first_2000_ones_share():
    """Share of digit 1 among the first 2,000 images of the MNIST test split (init-bench's test set), from the
    bundled genuine t10k files."""
    y = npdata.load_mnist(2_000, 1, seed=0, source="bundled", subset="first", verbose=False).y_train
    return float(np.count_nonzero(y == 1) / len(y))
