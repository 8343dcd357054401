"""He, Zhang, Ren & Sun (ICCV 2015), "Delving Deep into Rectifiers", reproduced on MNIST MLPs.

Run:  python -m experiments.he2015            (default: width 256, 3 seeds; 11 CPU-minutes measured, ~6 min on 2
                                              idle cores)
      python -m experiments.he2015 --quick    (seconds; the same files in figures/quick/)
      python -m experiments.he2015 --full     (--seeds 5 --epochs 30, 50,000/10,000 images: needs --data openml
                                              or an IDX directory; hours)

Four studies (code: ``deep_relu``, ``scaling``; figures: ``plots``):
  1. Figs. 2 and 3: ReLU nets of 22 and 30 weight layers (784 → 256 → … → 10), the paper's "Xavier"
     (Var w = 1/n_in, as its text defines it) against its own init (Var w = 2/n_in), biases 0, trained with SGD
     (lr 0.01, momentum 0.9, batch 128: the paper's ImageNet settings, without its weight decay)
     → he2015_convergence.png.
  2. "Its gradients are all diminishing": ‖∂L/∂W_l‖ of every layer at initialization for both inits, and the
     mean-field ratio 2^(−(depth − 1)/2) → he2015_gradient_norms.png; the depth where "Xavier" stalls, swept
     from 6 to 30 layers with a shorter budget → he2015_stall_depth.png.
  3. Forward vs backward scaling (eqs. 10 and 14) on 784 → 1024 → 256 → 512 → 128 → 1024 → 64 → 10
     → he2015_forward_backward.png.
  4. Fixed N(0, 0.01²) ("very deep models (> 8 conv layers) have difficulties to converge") swept over depth
     → he2015_std001_depth.png.
Numbers, the paper's settings and ours → he2015.json.

Where we differ from the paper (checked against its text where we could read it; the 0.01 remark is quoted
from it): the paper's nets are ImageNet convolutional nets (Fig. 2: its 22-layer model B; Fig. 3: a 30-layer
small model), trained for tens of epochs with weight decay 5e-4 and top-1 error read on 3,000 validation images.
Ours are MLPs on the bundled 8,000/2,000 MNIST carve (pixels in [0, 1], not centred) with test error on the
2,000; the width (256) is our choice. A conv layer's fan-in is k²·c (3×3×64 … 3×3×512 = 576 … 4,608), so the
std-0.01 init shrinks a VGG signal by 0.03–0.23 per layer and our width-256 MLP's by 0.0128: our failing depth
is carried to the conv net's by mean field (``deep_relu.equivalent_depth``) before it is set beside "8".
"""
import math

import numpy as np

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from . import deep_relu, plots, scaling
from .deep_relu import HE, INITS, STD001, XAVIER

PAPER = {
    "paper": "He, Zhang, Ren & Sun, Delving Deep into Rectifiers, ICCV 2015",
    "fig2": "22-layer ImageNet model: both inits converge, He's starts reducing error earlier",
    "fig3": "30-layer model: He's converges; \"Xavier\" completely stalls, its gradients all diminishing",
    "xavier_as_defined": "Var w = 1/n_l (n_l = fan-in), derived assuming linear activations",
    "he_init": "½ n_l Var w_l = 1 (eq. 10, forward) or ½ n̂_l Var w_l = 1 (eq. 14, backward)",
    "std001": "fixed std 0.01: very deep models (> 8 conv layers) have difficulties to converge (VGG)",
    "std001_depth": 8,
    "settings": {"data": "ImageNet 2012", "optimizer": "SGD, momentum 0.9, lr 0.01, weight decay 5e-4",
                 "batch": 128, "models": "conv nets, 22 (model B) and 30 layers"},
}

SETTINGS = {  # ours: default, --quick, --full
    "default": dict(width=256, depths=[22, 30], epochs=10, seeds=3, n_train=8_000, n_test=2_000,
                    sweep_depths=[6, 10, 14, 18, 22, 26, 30], sweep_epochs=4, sweep_seeds=2,
                    std_depths=[2, 3, 4, 5, 6, 8, 10], std_epochs=4, scaling_seeds=5, batch_grad=256),
    "quick": dict(width=32, depths=[6, 12], epochs=2, seeds=2, n_train=1_000, n_test=500,
                  sweep_depths=[4, 12], sweep_epochs=1, sweep_seeds=2, std_depths=[2, 4], std_epochs=1,
                  scaling_seeds=2, batch_grad=64),
    "full": dict(width=256, depths=[22, 30], epochs=30, seeds=5, n_train=50_000, n_test=10_000,
                 sweep_depths=[6, 10, 14, 18, 22, 26, 30], sweep_epochs=10, sweep_seeds=3,
                 std_depths=[2, 3, 4, 5, 6, 8, 10, 12], std_epochs=10, scaling_seeds=10, batch_grad=256),
}
OPTIM = dict(lr=0.01, momentum=0.9, batch=128)


def tasks_for(settings, inits, depths, epochs, seeds, seed0, data):
    return [({"init": init, "depth": d, "width": settings["width"], "seed": seed0 + s, "epochs": epochs, **OPTIM},
             *data) for d in depths for init in inits for s in range(seeds)]


def main(argv=None):
    p = cli.parser("python -m experiments.he2015", __doc__.split("\n")[0], dtype=False, jobs=True)
    p.add_argument("--full", action="store_true", help="the longer budget described above (hours; needs 50,000 "
                   "training images: --data openml or an IDX directory)")
    p.add_argument("--replot", action="store_true", help="train nothing: redraw the figures from he2015.json in --out")
    args, out, progress = cli.start(p, argv)
    if args.quick and args.full:
        raise cli.UsageError("--quick and --full exclude each other")
    if args.replot:
        return cli.replot(out, "he2015", draw, progress)
    cfg = SETTINGS["quick" if args.quick else "full" if args.full else "default"]
    split = cli.load_mnist(args, cfg["n_train"], cfg["n_test"], subset="first")
    progress(f"data: {split.source}")
    data = (split.X_train, split.y_train, split.X_test, split.y_test)

    progress(f"1/4 Figs. 2–3: {cfg['depths']} layers × {len(INITS)} inits × {cfg['seeds']} seeds, "
             f"{cfg['epochs']} epochs")
    runs = train_all(tasks_for(cfg, INITS, cfg["depths"], cfg["epochs"], cfg["seeds"], args.seed, data), args,
                     progress, "Figs. 2–3")
    curves = {k: deep_relu.summarize_runs(runs, k) for k in ("test_error_pct", "train_loss")}

    progress("2/4 gradient norms per layer at initialization; stall depth of \"Xavier\"")
    seeds = [args.seed + s for s in range(cfg["seeds"])]
    Xg, yg = split.X_train[:cfg["batch_grad"]], split.y_train[:cfg["batch_grad"]]
    with parallel.one_blas_thread():
        grads = deep_relu.gradient_study(cfg["depths"], cfg["width"], seeds, Xg, yg)
        grads_sweep = deep_relu.gradient_study(cfg["sweep_depths"], cfg["width"], seeds, Xg, yg)
    sweep_runs = train_all(tasks_for(cfg, INITS, cfg["sweep_depths"], cfg["sweep_epochs"], cfg["sweep_seeds"],
                                     args.seed, data), args, progress, "depth sweep")
    sweep = deep_relu.summarize_runs(sweep_runs, "train_loss")
    stall = deep_relu.stall_depth(sweep, XAVIER)

    progress("3/4 forward vs backward scaling on a net of changing widths")
    with parallel.one_blas_thread():
        scal = scaling.scaling_study([args.seed + s for s in range(cfg["scaling_seeds"])], split.X_test[:500])

    progress(f"4/4 N(0, 0.01²) over depths {cfg['std_depths']}")
    std_runs = train_all(tasks_for(cfg, [STD001], cfg["std_depths"], cfg["std_epochs"], cfg["sweep_seeds"],
                                   args.seed, data), args, progress, "std 0.01 sweep")
    std_curves = deep_relu.summarize_runs(std_runs, "train_loss")
    trained = {c["depth"]: deep_relu.trains(c) for c in std_curves.values()}
    fail = next((d for d in sorted(trained) if not trained[d]), None)
    equiv = {"width": cfg["width"], **deep_relu.equivalent_depth(fail if fail else max(trained), cfg["width"])}

    checks = make_checks(curves, grads, cfg, stall, scal)
    summary(curves, grads, cfg, stall, scal, fail, equiv, checks)
    result = {
        "experiment": "he2015", "quick": args.quick,
        "config": {"seed": args.seed, "quick": args.quick, "full": args.full, **cfg, **OPTIM,
                   "activation": "relu", "bias": 0, "inputs": "pixels in [0, 1], not centred",
                   "inits": {k: f"{v[0]}: Var w = {v[1]:g}/n_in" for k, v in INITS.items()}},
        "paper": PAPER, "data": split.info,
        "convergence": curves, "gradients_at_init": grads, "gradients_at_init_sweep": grads_sweep,
        "stall_sweep": sweep, "stall_depth_xavier": stall, "scaling": scal,
        "std001": {"curves": std_curves, "trains": {str(k): v for k, v in trained.items()},
                   "first_failing_depth": fail, "mean_field": equiv},
        "checks": checks, "runs": runs,
    }
    draw(result, out)
    outputs.write_json(out / "he2015.json", result)
    progress(f"wrote {out}/he2015.json and 5 figures")


def draw(result, out):
    """Every figure, from the run's JSON contents alone (so that --replot can redraw them without training)."""
    cfg, std = result["config"], result["std001"]
    grads = result["gradients_at_init"]
    plots.convergence(result["convergence"], cfg["depths"], cfg, result["data"]["source"],
                      out / "he2015_convergence.png")
    plots.gradient_norms(grads, cfg["depths"], cfg["seeds"], out / "he2015_gradient_norms.png")
    plots.stall_depth(result["stall_sweep"], result["gradients_at_init_sweep"], result["stall_depth_xavier"],
                      out / "he2015_stall_depth.png")
    plots.forward_backward(result["scaling"], out / "he2015_forward_backward.png")
    plots.std001(std["curves"], std["first_failing_depth"], std["mean_field"], out / "he2015_std001_depth.png")


def train_all(tasks, args, progress, what):
    def line(i, r):
        progress(f"  {what} {i + 1}/{len(tasks)}: {r['init']}, {r['depth']} layers, seed {r['seed']}: "
                 f"final loss {r['train_loss'][-1]:.3f}, test error {r['test_error_pct'][-1]:.1f}%")
    return parallel.parallel_map(deep_relu.train_task, tasks, args.jobs, on_result=line)


def make_checks(curves, grads, cfg, stall, scal):
    shallow, deep = (str(d) for d in cfg["depths"])
    err, loss = curves["test_error_pct"], curves["train_loss"]
    chance = math.log(10)

    def key(init, depth):
        return f"{init} @ {depth}"
    both = all(loss[key(i, shallow)]["max"][-1] < 0.5 * chance for i in INITS)
    he_ahead = err[key(HE, shallow)]["mean"][0] < err[key(XAVIER, shallow)]["mean"][0]
    stalls = loss[key(XAVIER, deep)]["min"][-1] > deep_relu.STALL_LOSS
    he_deep = loss[key(HE, deep)]["max"][-1] < 0.5 * chance
    g = grads[deep]
    fi, fo = scal["fan_in (eq. 10)"], scal["fan_out (eq. 14)"]
    return {
        "both_train_shallow": {"confirmed": both, "claim": f"at {shallow} layers both inits train"},
        "he_ahead_early": {"confirmed": bool(he_ahead), "claim": f"at {shallow} layers He's error is lower after "
                           "epoch 1", "he": err[key(HE, shallow)]["mean"][0],
                           "xavier": err[key(XAVIER, shallow)]["mean"][0]},
        "xavier_stalls_deep": {"confirmed": bool(stalls), "claim": f"at {deep} layers every \"Xavier\" seed "
                               f"stays above {deep_relu.STALL_LOSS:.2f} nats"},
        "he_trains_deep": {"confirmed": bool(he_deep), "claim": f"at {deep} layers He trains"},
        "first_layer_gradient_orders_below": {"confirmed": g["first_layer_decades_below_he"] >= 3,
                                              "claim": f"at {deep} layers \"Xavier\"'s ‖∂L/∂W_1‖ is ≥ 3 decades "
                                              "below He's at init", "decades": g["first_layer_decades_below_he"]},
        "forward_kept_by_fan_in": {"confirmed": abs(math.log(fi["forward_last_over_first"])) < math.log(1.5),
                                   "claim": "fan_in scaling keeps the forward signal (last/first within 1.5×)"},
        "backward_kept_by_fan_out": {"confirmed": abs(math.log(fo["backward_first_over_last"])) < math.log(1.5),
                                     "claim": "fan_out scaling keeps the backward signal (first/last within 1.5×)"},
        "stall_depth": {"confirmed": stall is not None, "claim": "\"Xavier\" stalls within the swept depths",
                        "depth": stall},
    }


def summary(curves, grads, cfg, stall, scal, fail, equiv, checks):
    rows = []
    for key, e in curves["test_error_pct"].items():
        loss = curves["train_loss"][key]
        rows.append([key, f"{e['mean'][0]:.1f}", f"{e['mean'][-1]:.1f}", f"{loss['mean'][-1]:.3f}"])
    print(f"Figs. 2–3 (width {cfg['width']}, {cfg['epochs']} epochs, {cfg['seeds']} seeds; means)")
    print(console.format_table(["init @ depth", "test error % ep. 1", "final", "final train loss"], rows))
    for d, g in grads.items():
        print(f"at init, {d} layers: ‖∂L/∂W_1‖ \"Xavier\" / He = {g['first_layer_ratio']:.2e} "
              f"({g['first_layer_decades_below_he']:.1f} decades); mean field 2^(−{int(d) - 1}/2) = "
              f"{g['predicted_ratio']:.2e}")
    print(f"\"Xavier\" stalls from depth {stall} on (sweep {cfg['sweep_depths']}, {cfg['sweep_epochs']} epochs)")
    for label, s in ((k, v) for k, v in scal.items() if k != "widths"):
        print(f"{label}: forward last/first {s['forward_last_over_first']:.3f} (mean field "
              f"{s['predicted_forward_last_over_first']:.3f}), backward first/last {s['backward_first_over_last']:.3f} "
              f"(mean field {s['predicted_backward_first_over_last']:.3f})")
    print(f"N(0, 0.01²), width {cfg['width']}: first depth that does not train: {fail}; per-layer factor "
          f"{equiv['per_layer_factor']:.4f} vs {equiv['per_layer_factor_conv']:.3f} for 3×3×256 convs → equivalent "
          f"conv depth {equiv['equivalent_conv_depth']:.1f} (paper: > 8 fail)")
    console.print_checks(checks)
