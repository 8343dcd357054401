"""Glorot & Bengio (AISTATS 2010), "Understanding the difficulty of training deep feedforward neural networks",
reproduced on MNIST.

Run:  python -m experiments.glorot2010            (default: the paper's 5 × 1,000 nets, 3 seeds, 3 epochs; ~14
                                                  CPU-minutes, ~7 min on 2 idle cores; measured: 6.5 CPU-minutes
                                                  with --seeds 2 --epochs 2)
      python -m experiments.glorot2010 --quick    (seconds; width 100, the same files in figures/quick/)
      python -m experiments.glorot2010 --full     (--seeds 5, 30 epochs on 50,000/10,000 images: needs --data
                                                  openml or an IDX directory; days on 2 cores)

Setup (the paper's): fully connected nets 784 → 5 hidden layers of 1,000 → 10, softmax output, negative
log-likelihood, plain SGD on minibatches of 10, biases 0; activations sigmoid, tanh and softsign (x / (1 + |x|),
``npnet.activations.softsign``); "standard" init W ~ U[−1/√n_in, 1/√n_in] against "normalized" init
W ~ U[±√6/√(n_in + n_out)]. Every training run is one task for the shared joblib helper (--jobs).

Studies (code: ``training``, ``histograms``; figures: ``plots``):
  1. Fig. 2 (sigmoid, standard init): each hidden layer's mean and standard deviation on 300 fixed test images
     during training → glorot2010_sigmoid_saturation.png.
  2. Fig. 3 (tanh and softsign, standard init): 98th percentile and standard deviation of each layer's
     activations during training → glorot2010_tanh_softsign_saturation.png.
  3. Figs. 6, 7, 8 (tanh, at initialization, standard vs normalized): histograms per layer of the activations,
     the back-propagated gradients ∂L/∂z_l and the weight gradients, with the mean-field variance per layer
     → glorot2010_activations_hist.png, glorot2010_backprop_gradients_hist.png, glorot2010_weight_gradients_hist.png.
  4. Table 1, MNIST column: test error of Softsign, Softsign N, Tanh, Tanh N, Sigmoid over seeds (the runs of 1
     and 2 are these runs) → glorot2010_table1.png.
Numbers, the paper's settings and ours → glorot2010.json.

Where we differ from the paper (its full text was not at hand to check every number against; the settings above
are the paper's as we read it): the paper's Figs. 2, 3 and 6–8 are drawn
on its synthetic Shapeset-3×2 data ("similar behavior is observed with the other datasets"), ours on MNIST; its
x-axes run over millions of updates (Shapeset is an infinite stream), ours over 3 epochs of 800 updates; the
paper tuned the learning rate per model on validation data and trained to the best validation error, we use one
lr (0.05 unless --lr) for every model and report the last epoch. MNIST in the paper is 50,000/10,000/10,000;
offline we use the bundled 8,000/2,000 carve of the genuine test split, so Table 1's absolute errors are not
comparable (8,000 images and 3 epochs give several times the paper's 1.6–2.2 %): what is compared is the ranking
and the gaps. The 98th percentile of Fig. 3 is taken over the activations a (not |a|); both are in the JSON.
"""
import numpy as np

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from . import histograms, plots, training
from .training import CONFIGS

PAPER = {
    "paper": "Glorot & Bengio, Understanding the difficulty of training deep feedforward neural networks, "
             "AISTATS 2010",
    "table1_mnist_test_error_pct": {"Softsign": 1.64, "Softsign N": 1.72, "Tanh": 1.76, "Tanh N": 1.64,
                                    "Sigmoid": 2.21},
    "fig2": "sigmoid: the top hidden layer is driven to saturation at 0 early and recovers only slowly",
    "fig3": "tanh: the layers saturate one after another, starting at layer 1; softsign saturates less",
    "fig6_7": "standard init: activations shrink going up, back-propagated gradients shrink going down; "
              "normalized init keeps both alike across layers",
    "fig8": "weight gradients just after initialization are of similar size across layers even with standard init",
    "settings": {"hidden_layers": 5, "width": 1000, "batch": 10, "optimizer": "SGD, lr tuned per model",
                 "mnist_split": "50,000 / 10,000 / 10,000", "figures_2_3_6_7_8_data": "Shapeset-3×2",
                 "probe_images": 300},
}

SETTINGS = {
    "default": dict(width=1000, epochs=3, seeds=3, n_train=8_000, n_test=2_000, probe_every=100, hist_images=1000),
    "quick": dict(width=100, epochs=1, seeds=2, n_train=1_000, n_test=500, probe_every=20, hist_images=300),
    "full": dict(width=1000, epochs=30, seeds=5, n_train=50_000, n_test=10_000, probe_every=1000, hist_images=1000),
}
BATCH, PROBE_IMAGES = 10, 300


def main(argv=None):
    p = cli.parser("python -m experiments.glorot2010", __doc__.split("\n")[0], dtype=False, jobs=True)
    p.add_argument("--full", action="store_true", help="the longer budget described above (needs 50,000 training "
                   "images: --data openml or an IDX directory)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate of every model")
    p.add_argument("--seeds", type=cli.count_arg(cli.SEEDS_MAX), default=None,
                   help=f"seeds per model (default: 3; 2 with --quick; 5 with --full); {cli.at_most(cli.SEEDS_MAX)}")
    p.add_argument("--epochs", type=cli.count_arg(cli.EPOCHS_MAX), default=None,
                   help=f"training epochs (default: 3; 1 with --quick; 30 with --full); {cli.at_most(cli.EPOCHS_MAX)}")
    p.add_argument("--replot", action="store_true",
                   help="train nothing: redraw the figures from glorot2010.json in --out")
    args, out, progress = cli.start(p, argv)
    if args.quick and args.full:
        raise cli.UsageError("--quick and --full exclude each other")
    if args.replot:
        return cli.replot(out, "glorot2010", draw, progress)
    if not 0 < args.lr < 10:
        raise cli.UsageError(f"--lr must lie in (0, 10), got {args.lr}")
    cfg = dict(SETTINGS["quick" if args.quick else "full" if args.full else "default"])
    cfg.update({k: getattr(args, k) for k in ("seeds", "epochs") if getattr(args, k) is not None})
    split = cli.load_mnist(args, cfg["n_train"], cfg["n_test"], subset="first")
    progress(f"data: {split.source}")
    X_probe = split.X_test[:PROBE_IMAGES]

    progress(f"1/2 Figs. 6–8: tanh at initialization, {cfg['seeds']} seeds")
    seeds = [args.seed + s for s in range(cfg["seeds"])]
    with parallel.one_blas_thread():
        hist = histograms.histogram_study(cfg["width"], seeds, split.X_test[:cfg["hist_images"]],
                                          split.y_test[:cfg["hist_images"]])

    tasks = [({"label": label, "activation": act, "init": init, "seed": s, "width": cfg["width"],
               "epochs": cfg["epochs"], "batch": BATCH, "lr": args.lr, "probe_every": cfg["probe_every"]},
              split.X_train, split.y_train, split.X_test, split.y_test, X_probe)
             for label, (act, init) in CONFIGS.items() for s in seeds]
    progress(f"2/2 Figs. 2–3 and Table 1: {len(tasks)} runs ({len(CONFIGS)} models × {len(seeds)} seeds), "
             f"{cfg['epochs']} epochs of {-(-cfg['n_train'] // BATCH)} updates")

    def line(i, r):
        progress(f"  run {i + 1}/{len(tasks)}: {r['label']}, seed {r['seed']}: test error "
                 f"{r['test_error_pct'][-1]:.2f}%")
    runs = parallel.parallel_map(training.train_task, tasks, args.jobs, on_result=line)
    curves = {label: training.saturation_curves(runs, label) for label in CONFIGS}
    findings = training.saturation_findings(curves)
    t1 = training.table1(runs, PAPER["table1_mnist_test_error_pct"])

    checks = make_checks(hist, findings, t1)
    summary(hist, findings, t1, cfg)
    console.print_checks(checks)
    result = {
        "experiment": "glorot2010", "quick": args.quick,
        "config": {"seed": args.seed, "quick": args.quick, "full": args.full, **cfg, "batch": BATCH, "lr": args.lr,
                   "probe_images": PROBE_IMAGES, "sizes": training.sizes(cfg["width"]),
                   "inits": {"standard": "U[−1/√n_in, 1/√n_in]", "normalized": "U[±√6/√(n_in + n_out)]"},
                   "bias": 0, "inputs": "pixels in [0, 1]"},
        "paper": PAPER, "data": split.info,
        "histograms": hist, "saturation": curves, "saturation_findings": findings, "table1": t1,
        "checks": checks, "runs": [{k: v for k, v in r.items() if k != "trace"} for r in runs],
    }
    draw(result, out)
    outputs.write_json(out / "glorot2010.json", result)
    progress(f"wrote {out}/glorot2010.json and 6 figures")


def draw(result, out):
    """Every figure, from the run's JSON contents alone (so that --replot can redraw them without training)."""
    curves, hist, t1, cfg = result["saturation"], result["histograms"], result["table1"], result["config"]
    info = result["data"]["source"]
    plots.saturation(curves, [("Sigmoid", [("mean", "mean activation"), ("std", "standard deviation")])],
                     f"{PAPER['paper'].split(',')[0]} 2010, Fig. 2: {PAPER['fig2']}",
                     out / "glorot2010_sigmoid_saturation.png", info)
    plots.saturation(curves, [(lab, [("p98", "98th percentile of a"), ("std", "standard deviation")])
                              for lab in ("Tanh", "Softsign")],
                     f"Glorot & Bengio 2010, Fig. 3: {PAPER['fig3']}", out / "glorot2010_tanh_softsign_saturation.png",
                     info)
    plots.histograms(hist, "activations", "activation value a_l = tanh(z_l)",
                     "Fig. 6 — standard init: activations shrink going up; normalized: alike across layers",
                     out / "glorot2010_activations_hist.png")
    plots.histograms(hist, "backprop_gradients", "back-propagated gradient ∂L/∂z_l",
                     "Fig. 7 — standard init: back-propagated gradients shrink going down; normalized: alike",
                     out / "glorot2010_backprop_gradients_hist.png")
    plots.histograms(hist, "weight_gradients", "weight gradient ∂L/∂W_l",
                     "Fig. 8 — weight gradients at initialization: of similar size across layers even with standard "
                     "init\n(the two opposite trends of Figs. 6 and 7 cancel in ∂L/∂W_l = δ_lᵀ a_{l−1})",
                     out / "glorot2010_weight_gradients_hist.png")
    plots.table1(t1, cfg["seeds"], cfg, info, out / "glorot2010_table1.png")


def make_checks(hist, findings, t1):
    st, no = hist["standard"], hist["normalized"]
    return {
        "fig2_top_layer_towards_0": {"confirmed": findings["sigmoid_top_driven_towards_0"],
                                     "claim": "sigmoid: the top hidden layer's mean falls below half its start"},
        "fig3_tanh_saturates_in_order": {"confirmed": findings["tanh_layers_saturate_in_order_from_layer_1"],
                                         "claim": "tanh: layers reach a 98th percentile of 0.95 in order, layer 1 "
                                         "first"},
        "fig6_standard_activations_shrink_up": {"confirmed": st["activations"]["top_over_bottom_var"] < 0.5,
                                                "claim": "standard: Var(a_5) < ½ Var(a_1)"},
        "fig6_normalized_within_2x": {"confirmed": no["activations"]["max_over_min_var"] <= 2.0,
                                      "claim": "normalized: activation variance within 2× across the 5 layers"},
        "fig6_standard_not_within_2x": {"confirmed": st["activations"]["max_over_min_var"] > 2.0,
                                        "claim": "standard: activation variance not within 2× across the 5 layers"},
        "fig7_standard_gradients_shrink_down": {"confirmed": st["backprop_gradients"]["top_over_bottom_var"] > 2.0,
                                                "claim": "standard: Var(∂L/∂z_1) < ½ Var(∂L/∂z_5)"},
        "fig7_normalized_gradients_within_2x": {"confirmed": no["backprop_gradients"]["max_over_min_var"] <= 2.0,
                                                "claim": "normalized: back-propagated gradient variance within 2×"},
        "fig8_standard_weight_gradients_similar": {
            "confirmed": st["weight_gradients"]["max_over_min_var"] < min(st["activations"]["max_over_min_var"],
                                                                         st["backprop_gradients"]["max_over_min_var"]),
            "claim": "standard: weight-gradient variance spreads less over the layers than either activations or "
                     "back-propagated gradients"},
        "table1_sigmoid_worst": {"confirmed": t1["sigmoid_worst"], "claim": "Sigmoid has the highest test error"},
    }


def summary(hist, findings, t1, cfg):
    print(f"Figs. 6–8 (tanh, width {cfg['width']}, at init): variance max/min over the 5 hidden layers, "
          "top/bottom ratio")
    rows = []
    for init in ("standard", "normalized"):
        for key in ("activations", "backprop_gradients", "weight_gradients"):
            s = hist[init][key]
            rows.append([init, key, f"{s['max_over_min_var']:.2f}", f"{s['top_over_bottom_var']:.3g}"])
    print(console.format_table(["init", "quantity", "max/min", "layer 5 / layer 1"], rows))
    print(f"Fig. 2 sigmoid top layer mean: start {findings['sigmoid_top_mean_start']:.3f}, min "
          f"{findings['sigmoid_top_mean_min']:.3f} at update {findings['sigmoid_top_mean_min_at_update']}, end "
          f"{findings['sigmoid_top_mean_end']:.3f}")
    print(f"Fig. 3 tanh: first update with 98th percentile ≥ 0.95, layers 1–5: "
          f"{findings['tanh_first_update_p98_reaches_threshold']}; final 98th percentiles tanh "
          f"{np.round(findings['tanh_p98_end'], 3).tolist()}, softsign "
          f"{np.round(findings['softsign_p98_end'], 3).tolist()}")
    print("Table 1 (test error %, last epoch):")
    print(console.format_table(["model", "ours mean", "min", "max", "paper"],
                              [[k, f"{r['mean']:.2f}", f"{r['min']:.2f}", f"{r['max']:.2f}", f"{r['paper']:.2f}"]
                               for k, r in t1["rows"].items()]))
    print(f"ranking ours: {t1['ours_ranking']}; paper: {t1['paper_ranking']}")
    for name, g in t1["gaps_pct_points"].items():
        print(f"gap {name}: ours {g['ours']:+.2f}, paper {g['paper']:+.2f} points")
