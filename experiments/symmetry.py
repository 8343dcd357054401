"""The symmetry problem: zero or constant initialization keeps hidden units identical under backprop.

Run:  python -m experiments.symmetry            (full run, ~30 s on 2 cores; writes figures/)
      python -m experiments.symmetry --quick    (seconds; the same files in figures/quick/)

Protocol of the study reproduced here (its published numbers are PyTorch, float32): MNIST, 10,000 training and
2,000 test images (offline: the bundled 10,000-image split, carved 8,000/2,000), x/255; a 784-100-10 network with
a sigmoid hidden layer and softmax cross-entropy; plain SGD, lr 0.1, batch 100, 5 epochs; inits ``all_zero``
(every W and b zero) and ``rand0.01`` (W ~ N(0, 0.01²), b = 0). Measured at every epoch (0 = before training):
  test_acc        accuracy on the test set
  sym_fc1         max_i max_j |W1[i, j] − W1[0, j]|: how far the hidden units' weight rows are from unit 0's
  hidden_var      per probe image, the variance of the 100 hidden activations; mean over the probe images
  distinct_units  the number of distinct rows of W1 (1 = all hidden units are copies of one)

Beyond the study: (1) exact mode, where units with equal weights provably get equal bits, shows sym_fc1 and
hidden_var are exactly 0.0; (2) BLAS mode in float64 and float32 measures the round-off drift that the study saw
instead (how much, if any, depends on the machine, its BLAS and the thread count the JSON records); (3) a perturbation ε of one weight shows whether training amplifies a tiny asymmetry; (4) sigmoid, tanh
and relu (both conventions for relu'(0)) under all-zero, constant, zero-first-layer and small random inits, with
each mechanism checked by measurement.
"""
import numpy as np

import npnet
from npnet import probes

from . import _cli as cli, _console as console, _outputs as outputs
from . import _plotting as plotting

HIDDEN = 100
LR = 0.1
BATCH = 100
N_TRAIN, N_TEST = 10_000, 2_000
N_PROBE = 200            # the fixed probe batch for hidden_var: the first 200 test images
PERTURB_PIXEL = 14 * 28 + 14   # the centre pixel: inked in most digits, so its weight gets gradient
EPSILONS = (1e-12, 1e-8, 1e-4)
CONSTANT = 0.01          # small enough that sigmoid/tanh are not saturated (z ≈ 0.01·Σx ≈ 1)

#: name → (weight init per Dense layer, description); every bias starts at 0
INITS = {
    "all_zero": (["zeros", "zeros"], "every W and b zero"),
    "const0.01": ([("constant", {"value": CONSTANT}), ("constant", {"value": CONSTANT})],
                  f"every W = {CONSTANT}, b = 0"),
    "zero_first": (["zeros", ("normal", {"std": 0.01})], "W1 = b1 = 0; W2 ~ N(0, 0.01²)"),
    "rand0.01": ([("normal", {"std": 0.01}), ("normal", {"std": 0.01})], "W ~ N(0, 0.01²), b = 0"),
}
#: activation label → (activation name, relu'(0))
ACTIVATIONS = {"sigmoid": ("sigmoid", 0.0), "tanh": ("tanh", 0.0), "relu": ("relu", 0.0),
               "relu'(0)=1": ("relu", 1.0)}


def build(init_name, act_label, mode, dtype, seed):
    act, relu0 = ACTIVATIONS[act_label]
    return npnet.mlp([784, HIDDEN, 10], act, INITS[init_name][0], "zeros", rng=np.random.default_rng(seed),
                     dtype=dtype, products=mode, relu_grad_at_zero=relu0)


def measure(net, data, probe):
    """The per-epoch numbers: test accuracy, sym_fc1, hidden_var, distinct_units."""
    acc = npnet.evaluate(net, data.X_test, data.y_test)["accuracy"]
    net.forward(probe)
    W1 = net.dense[0].W
    return {"test_acc": acc, "sym_fc1": probes.row_spread(W1), "hidden_var": probes.unit_variance(net.outputs[0]),
            "distinct_units": probes.distinct_rows(W1)}


def train_run(net, data, probe, epochs, seed, on_step=None):
    """Train with the study's protocol; return the per-epoch measurements (epoch 0 = before training)."""
    series = {"epoch": [0], "train_loss": [None], **{k: [v] for k, v in measure(net, data, probe).items()}}

    def on_epoch(epoch, net, history):
        series["epoch"].append(epoch)
        series["train_loss"].append(history["train_loss"][-1])
        for key, value in measure(net, data, probe).items():
            series[key].append(value)

    npnet.train(net, data.X_train, data.y_train, optimizer=npnet.SGD(net, lr=LR), epochs=epochs, batch_size=BATCH,
                rng=np.random.default_rng(seed), eval_train=False, on_epoch=on_epoch, on_step=on_step)
    return series


def run_grid(specs, data, probe, args, progress):
    """Train every (init, activation, mode, dtype) in ``specs``; return one record per run."""
    records = []
    for i, (init_name, act_label, mode, dtype) in enumerate(specs, 1):
        net = build(init_name, act_label, mode, dtype, args.seed)
        before = net.get_weights()
        series = train_run(net, data, probe, args.epochs, args.seed)
        W1, W2 = net.dense[0].W, net.dense[1].W
        record = {
            "init": init_name, "activation": act_label, "mode": mode, "dtype": np.dtype(dtype).name,
            **series,
            "changed_params": probes.changed_parameters(before, net),
            "hidden_rows_equal": bool(all(np.array_equal(row, W1[0]) for row in W1)),
            "outgoing_cols_equal": bool(all(np.array_equal(col, W2[:, 0]) for col in W2.T)),
        }
        records.append(record)
        progress(f"[{i}/{len(specs)}] {init_name:10s} {act_label:10s} {mode:5s} {record['dtype']:7s} "
                 f"acc {record['test_acc'][-1]:.3f}  sym_fc1 {record['sym_fc1'][-1]:.3g}  "
                 f"distinct units {record['distinct_units'][-1]}")
    return records


def perturbation_runs(data, probe, args, dtype, progress):
    """All-zero start plus ε on one weight of W1, exact mode: sym_fc1 after every step."""
    out = []
    for eps in EPSILONS:
        net = build("all_zero", "sigmoid", "exact", dtype, args.seed)
        net.dense[0].W[0, PERTURB_PIXEL] += eps
        steps = [probes.row_spread(net.dense[0].W)]

        def on_step(epoch, step, net, loss):
            steps.append(probes.row_spread(net.dense[0].W))

        series = train_run(net, data, probe, args.epochs, args.seed, on_step=on_step)
        out.append({"epsilon": eps, "sym_fc1_per_step": steps, **series,
                    "growth": steps[-1] / steps[0]})
        progress(f"perturbation ε={eps:g}: sym_fc1 {steps[0]:.3g} → {steps[-1]:.3g} "
                 f"(×{steps[-1] / steps[0]:.3g}); acc {series['test_acc'][-1]:.3f}, "
                 f"distinct units {series['distinct_units'][-1]}")
    return out


def gradient_at_init(init_name, act_label, data, dtype, seed):
    """Gradients on the first 100 training images at initialization: L1 of all, L1 of the output bias, which are 0."""
    net = build(init_name, act_label, "exact", dtype, seed)
    summary = probes.gradients_at(net, data.X_train[:BATCH], data.y_train[:BATCH])
    return {
        **summary,
        "hidden_outputs": sorted({float(v) for v in np.unique(net.outputs[0])})[:3],
        "distinct_dW1_rows": probes.distinct_rows(net.dense[0].dW),
    }


def find(records, **match):
    return next(r for r in records if all(r[k] == v for k, v in match.items()))


def mechanisms(records, data, dtype, seed):
    """Each claimed mechanism, stated and checked against the runs (True/False per check)."""
    main = dict(mode="exact", dtype=np.dtype(dtype).name)
    sig = find(records, init="all_zero", activation="sigmoid", **main)
    sig0 = gradient_at_init("all_zero", "sigmoid", data, dtype, seed)
    out = {
        "sigmoid_all_zero": {
            "claim": "every hidden unit outputs 0.5; all rows of dW1 are equal, so W1 moves but its rows stay "
                     "equal: the net behaves like one hidden unit copied 100 times",
            "hidden_outputs_at_init": sig0["hidden_outputs"],
            "distinct_dW1_rows_at_init": sig0["distinct_dW1_rows"],
            "W1_changed": "fc1.W" in sig["changed_params"],
            "distinct_units_final": sig["distinct_units"][-1],
            "confirmed": sig0["hidden_outputs"] == [0.5] and sig0["distinct_dW1_rows"] == 1
            and "fc1.W" in sig["changed_params"] and sig["distinct_units"][-1] == 1,
        }
    }
    for label in ("tanh", "relu", "relu'(0)=1"):
        run = find(records, init="all_zero", activation=label, **main)
        g0 = gradient_at_init("all_zero", label, data, dtype, seed)
        out[f"{label}_all_zero"] = {
            "claim": "hidden outputs are 0, so dW2 = δᵀA1 = 0 and the signal to W1, (δW2)⊙f'(Z1), is 0 because "
                     "W2 = 0: only the output bias learns",
            "changed_params": run["changed_params"],
            "zero_gradients_at_init": g0["zero_gradients"],
            "l1_all_gradients_at_init": g0["l1_all"],
            "l1_output_bias_gradient_at_init": g0["l1_output_bias"],
            "confirmed": run["changed_params"] == ["fc2.b"] and g0["l1_all"] == g0["l1_output_bias"],
        }
    verdicts = {}
    for label in ACTIVATIONS:
        run = find(records, init="zero_first", activation=label, **main)
        learns = "fc1.W" in run["changed_params"]
        verdicts[label] = {"W1_changed": learns, "final_test_acc": run["test_acc"][-1],
                           "distinct_units_final": run["distinct_units"][-1],
                           "verdict": "learns" if learns and run["distinct_units"][-1] > 1 else "stuck"}
    out["zero_first_layer"] = {
        "claim": "with only W1 = 0, W2ᵀδ differs per hidden unit, so sigmoid and tanh learn; relu with "
                 "relu'(0) = 0 multiplies that signal by 0 and is stuck; relu'(0) = 1 lets it through",
        "per_activation": verdicts,
        "confirmed": [verdicts[a]["verdict"] for a in ACTIVATIONS] == ["learns", "learns", "stuck", "learns"],
    }
    return out


def exact_zero_floor(values):
    """Where to draw exact zeros on a log axis: clearly below the smallest positive value (≥ 2 decades)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return 1e-20
    low, high = np.log10(min(positive)), np.log10(max(positive))
    return 10.0 ** (np.floor(low) - max(2.0, np.ceil(0.15 * (high - low))))


def plot_log_series(ax, series, ylabel, published=()):
    """Log-scale lines, with exact zeros drawn as open markers on a row labelled 'exactly 0'.

    ``published`` holds (init, epochs, values) of the study's reported numbers, drawn as the house's published star
    in that init's colour.
    """
    floor = exact_zero_floor([v for _, x, y, _ in series for v in y] + [v for _, _, ys in published for v in ys])
    for i, (label, x, y, style) in enumerate(series):
        y = np.asarray(y, dtype=float)
        ax.plot(x, np.where(y > 0, y, np.nan), label=label, **style)
        zeros = y == 0
        if zeros.any():  # nudged sideways a little per series so that overlapping zero rows stay visible
            ax.plot(np.asarray(x, dtype=float)[zeros] + 0.04 * (i - len(series) / 2), np.full(zeros.sum(), floor),
                    linestyle="none", marker=style["marker"], markerfacecolor="none", color=style["color"],
                    markersize=8)
    for init, x, y in published:
        plotting.published(ax, x, y, PUBLISHED_STUDY, INIT_WORDS[init], color=STYLES[(init, "exact")]["color"])
    ax.set_yscale("log")
    ax.axhline(floor, color="0.6", linewidth=0.8, linestyle=":")
    ticks = [t for t in ax.get_yticks() if t > floor * 50]
    ax.set_yticks([floor, *ticks])
    ax.set_yticklabels(["exactly 0", *[f"$10^{{{int(round(np.log10(t)))}}}$" for t in ticks]])
    ax.set_ylim(floor / 5, None)
    ax.set_ylabel(ylabel + " (log scale)")
    ax.set_xlabel("epoch")
    plotting.legend_outside(ax)


#: the study's reported values (PyTorch, float32) at epochs 1 and 5, drawn for comparison: (init, epochs, values)
PUBLISHED_STUDY = "init-bench (PyTorch float32)"
PUBLISHED = {
    "test_acc": [("all_zero", [1, 5], [0.117, 0.245]), ("rand0.01", [1, 5], [0.532, 0.861])],
    "sym_fc1": [("all_zero", [1, 5], [1e-10, 1e-6])],
    "hidden_var": [("all_zero", [1, 5], [1e-18, 1e-10])],
}
#: the inits, products and dtypes in words for legends
INIT_WORDS = {"all_zero": "all zero", "const0.01": "constant 0.01", "rand0.01": "N(0, 0.01²)",
              "zero_first": "zero first layer"}
MODE_WORDS = {"exact": "exact products", "blas": "BLAS products"}


STYLES = {
    ("all_zero", "exact"): dict(color="C0", marker="o"),
    ("const0.01", "exact"): dict(color="C1", marker="s"),
    ("rand0.01", "exact"): dict(color="C2", marker="^"),
}


def study_series(records, key, dtype):
    """(label, epochs, values, style) for the sigmoid runs of the reproduced study."""
    out = []
    for r in records:
        if r["activation"] != "sigmoid" or r["init"] == "zero_first":
            continue
        style = dict(STYLES.get((r["init"], "exact"), dict(color="C3", marker="x")))
        if r["mode"] == "blas":
            style.update(linestyle="--" if r["dtype"] == "float32" else ":", marker="x" if r["dtype"] == "float32"
                         else "+")
        elif r["dtype"] != np.dtype(dtype).name:
            continue
        out.append((f"{INIT_WORDS.get(r['init'], r['init'])}, {MODE_WORDS[r['mode']]}, {r['dtype']}", r["epoch"],
                    r[key], style))
    return out


def figures(records, perturb, info, out, dtype):
    title = (f"784-100-10 sigmoid, SGD lr {LR}, batch {BATCH}, seed 0 — {info['dataset']} "
             f"{info['n_train']}/{info['n_test']}")
    fig, ax = outputs.plt.subplots(figsize=(9, 4.5))
    for label, x, y, style in study_series(records, "test_acc", dtype):
        ax.plot(x, y, label=label, **style)
    for init, x, y in PUBLISHED["test_acc"]:
        plotting.published(ax, x, y, PUBLISHED_STUDY, INIT_WORDS[init], color=STYLES[(init, "exact")]["color"])
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (share of the 2,000 test images)" if info["n_test"] == 2000 else "test accuracy")
    ax.set_title(title, fontsize=9)
    plotting.legend_outside(ax)
    outputs.save_figure(fig, out / "symmetry_test_accuracy.png")

    for key, name, ylabel in (("sym_fc1", "symmetry_fc1.png",
                               "largest difference between two hidden units'\n"
                               "incoming weights, max |W1[i, j] − W1[0, j]|"),
                              ("hidden_var", "symmetry_hidden_variance.png",
                               "variance of the hidden outputs\nacross the 100 units")):
        fig, ax = outputs.plt.subplots(figsize=(9, 4.5))
        plot_log_series(ax, study_series(records, key, dtype), ylabel, PUBLISHED[key])
        ax.set_title(title + "\nopen markers on the bottom row are exactly 0.0 (a log axis cannot show 0)", fontsize=9)
        outputs.save_figure(fig, out / name)

    fig, (ax, ax_rel) = outputs.plt.subplots(1, 2, figsize=(11, 4.2))
    for i, run in enumerate(perturb):
        y = np.asarray(run["sym_fc1_per_step"])
        ax.plot(np.arange(len(y)), y, color=f"C{i}", label=f"ε = {run['epsilon']:g}")
        ax_rel.plot(np.arange(len(y)), y / run["epsilon"], color=f"C{i}", label=f"ε = {run['epsilon']:g}",
                    linewidth=4 - i, alpha=0.8)
    plotting.log_axis(ax, "y", "largest weight difference between units,\nmax |W1[i, j] − W1[0, j]|")
    ax_rel.set_ylabel("the same divided by ε\n(growth of the asymmetry, ×)")
    for a in (ax, ax_rel):
        a.set_xlabel("SGD step")
    plotting.figure_legend(fig, ncol=3, y=0.02)
    fig.suptitle("all-zero sigmoid net, exact mode, W1[0, centre pixel] += ε: the asymmetry grows in proportion to ε",
                 fontsize=9)
    outputs.save_figure(fig, out / "symmetry_perturbation.png")


def summary_rows(records):
    rows = []
    for r in records:
        rows.append([r["init"], r["activation"], r["mode"], r["dtype"], f"{r['test_acc'][-1]:.3f}",
                     "0 (exact)" if r["sym_fc1"][-1] == 0 else f"{r['sym_fc1'][-1]:.2e}", r["distinct_units"][-1],
                     ",".join(r["changed_params"]) or "-"])
    return rows


def run_specs(dtype):
    """Every run: the study (sigmoid; exact plus BLAS float64/float32), then the activation × init grid (exact)."""
    main = np.dtype(dtype).type
    specs = []
    for init_name in ("all_zero", "const0.01", "rand0.01"):
        specs += [(init_name, "sigmoid", "exact", main), (init_name, "sigmoid", "blas", np.float64),
                  (init_name, "sigmoid", "blas", np.float32)]
    for act in ACTIVATIONS:
        for init_name in INITS:
            if (init_name, act, "exact", main) not in specs:
                specs.append((init_name, act, "exact", main))
    return specs


def main(argv=None):
    args, out, progress = cli.start(cli.parser("python -m experiments.symmetry", __doc__.split("\n")[0],
                                                     epochs=5, quick_epochs=2), argv)
    n_train, n_test = (1_000, 500) if args.quick else (N_TRAIN, N_TEST)
    dtype = np.dtype(args.dtype).type
    progress(f"loading MNIST ({n_train}/{n_test} requested)")
    split = cli.load_mnist(args, n_train, n_test, dtype=dtype)
    data = split
    probe = data.X_test[:N_PROBE]
    progress(f"data: {split.source}")
    specs = run_specs(dtype)
    progress(f"{len(specs)} runs of {args.epochs} epochs + {len(EPSILONS)} perturbation runs")
    records = run_grid(specs, data, probe, args, progress)
    perturb = perturbation_runs(data, probe, args, dtype, progress)
    checks = mechanisms(records, data, dtype, args.seed)

    print()
    print(f"data: {split.source}")
    print(console.format_table(["init", "activation", "mode", "dtype", "final acc", "final sym_fc1",
                                "distinct units", "params changed"], summary_rows(records)))
    print()
    console.print_checks(checks)
    zf = checks["zero_first_layer"]["per_activation"]
    print("zero first layer, verdict per activation: "
          + ", ".join(f"{a}: {v['verdict']} (acc {v['final_test_acc']:.3f})" for a, v in zf.items()))
    for run in perturb:
        print(f"perturbation ε={run['epsilon']:g}: sym_fc1 grew ×{run['growth']:.3g} over "
              f"{len(run['sym_fc1_per_step']) - 1} steps; final distinct units {run['distinct_units'][-1]}")

    result = {
        "experiment": "symmetry",
        "data": split.info,
        "config": {"sizes": [784, HIDDEN, 10], "lr": LR, "batch_size": BATCH, "epochs": args.epochs,
                   "seed": args.seed, "quick": args.quick, "probe": f"first {N_PROBE} test images",
                   "perturbed_weight": ["fc1.W", 0, PERTURB_PIXEL],
                   "inits": {k: v[1] for k, v in INITS.items()}},
        "runs": records,
        "perturbation": perturb,
        "mechanisms": checks,
    }
    figures(records, perturb, split.info, out, dtype)
    outputs.write_json(out / "symmetry.json", result)
    progress(f"wrote {out}/symmetry_*.png and {out}/symmetry.json")


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "experiments.symmetry"))
