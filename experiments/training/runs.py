"""One training run as a picklable task (``task``, ``run_one``), the studies' data, and what every study computes
over its seeds: mean and spread, per-epoch curves and their min–max bands."""
import math
import time

import numpy as np

import npnet
from npnet import data as npdata
from npnet import probes

from .. import _cli as cli, _outputs as outputs
from .. import _plotting as plotting


NORMALIZE = (0.1307, 0.3081)          # the lecture's transforms.Normalize((0.1307,), (0.3081,))
TORCH_DEFAULT = "torch_default"       # PyTorch's nn.Linear init, for weights and biases


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
                    rng=np.random.default_rng([t["seed"], 1]), eval_train=False, on_epoch=on_epoch)
    except npnet.DivergenceError as exc:         # the step whose loss was NaN/inf
        diverged = {"epoch": exc.epoch, "step": exc.step, "message": str(exc)}
    after = net.get_weights()
    record = {k: v for k, v in t.items() if k not in ("init", "bias", "formula", "data", "carve")}
    record.update(init={"weights": repr(t["init"]), "biases": repr(t["bias"]), "formula": t["formula"]},
                  data={"carve": t["carve"], "n_train": len(y), "n_test": len(yt),
                        "normalized": t["data"]["normalize"]},
                  steps_per_epoch=steps_per_epoch, **series, diverged=diverged,
                  changed_params=probes.changed_parameters(before, net),
                  nonzero_params=[k for k in after if np.any(after[k] != 0)])
    return record, (time.perf_counter() - start, time.process_time() - start_cpu)


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


def at_epoch(runs, key, epoch):
    return stats([r[key][epoch - 1] for r in complete(runs)])


def band(ax, c, color, label, linestyle="-", x=None, seeds_in_label=True, **line):
    """Mean line and a min–max band over seeds (x: epochs 1, 2, … unless given); the label gets the seed count
    (unless the legend's title says it)."""
    if x is None:
        x = np.arange(1, len(c["mean"]) + 1)
        ax.xaxis.set_major_locator(outputs.plt.MaxNLocator(integer=True))
    return plotting.ours(ax, x, c["mean"], c["min"], c["max"], label=label, seeds=c["n"] if seeds_in_label else None,
                         color=color, linestyle=linestyle, **line)


def study_data(args, progress, n_train, n_test, fallback=None):
    """Load the studies' unshuffled carve once in the parent (to check it and say which it is); the workers
    reload it from the same resolved source."""
    try:
        split = cli.load_mnist(args, n_train, n_test, subset="first")
    except cli.UsageError:
        if fallback is None:
            raise
        split = cli.load_mnist(args, *fallback, subset="first")
    kind = split.info["source_kind"]
    source = {"bundled": "bundled", "cache": "openml", "openml": "openml"}.get(kind, split.info["requested_source"])
    progress(f"data: {split.source}" + (f" ({split.info['notice']})" if split.info["notice"] else ""))
    ref = {"source": source, "n_train": split.info["n_train"], "n_test": split.info["n_test"], "normalize": False}
    shares = (np.bincount(split.y_test, minlength=10) / len(split.y_test)).tolist()
    return ref, split.info, shares


def progress_line(progress, total):
    def on_result(i, result):
        r, (seconds, _) = result
        end = (f"DIVERGED at epoch {r['diverged']['epoch']}, step {r['diverged']['step']}" if r["diverged"] else
               f"test acc {r['test_acc'][-1]:.3f}, train loss {r['train_loss'][-1]:.4g}")
        progress(f"[{i + 1}/{total}] {r['study']} {r['variant']} seed {r['seed']} batch {r['batch_size']}: {end} "
                 f"({seconds:.1f} s)")
    return on_result


def jsonable(obj):
    """Dict keys as strings (epoch numbers are ints in the published tables)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)
