"""Three published depth studies reproduced with their own settings, figures and numbers, and mean-field theory on them.

Run:  python -m experiments.depth                          (every study: ~45 s of CPU, --jobs spreads it)
      python -m experiments.depth --study relu-spread      (one study; --study repeats)
      python -m experiments.depth --quick                  (seconds; same files, to figures/quick/)

Studies (docs/STUDIES.md: init-bench's figure 4, relu-spread, cs231n-notes), each a key of figures/depth.json with the published values beside ours:
  init-bench    1,000 MNIST images through 5 sigmoid layers of 100 (width unstated: its model's 100), no bias,
                W ~ N(0, 1), N(0, 0.01²), N(0, 1/n) ("Xavier") → sigmoid_activation_histograms.png
  relu-spread   20 layers, z = x·Wᵀ, no bias: A) 1/√n + identity, B) 1/√n + ReLU, C) He √(2/n) + ReLU, on Gaussian
                input (1,000 × 512, width 512) and on 1,000 MNIST images → relu_spread_hist_xavier_identity.png,
                relu_spread_hist_xavier_relu.png, relu_spread_hist_he_relu.png, relu_spread_check_ex2.png,
                relu_spread_check_relu_ratio.png, relu_zero_fraction.png
  cs231n-notes  D = randn(1000, 500), 10 layers of 500, no bias, tanh/ReLU under randn·0.01, randn·1, randn/√fan_in,
                He; per-layer mean/std over --seeds seeds beside the published tables → cs231n_layer_stats.png; the
                product of 100 random 4×4 N(0, 1) matrices and its Lyapunov exponent → matrix_product.png
  gains         the gain that keeps E[z²] constant through 50 wide layers, by bisection, beside npnet.init.calculate_gain
                (PyTorch's calculate_gain table) and the mean-field value → measured_gains.png

Every measured E[z²]-per-layer curve has the mean-field line q_l = σ_w²·E[φ(√q_{l−1} z)²] (npnet.meanfield, layer
1 from E[x²], not Var) drawn over it, and measured/theory per layer is in the JSON. Weights use npnet's layout
W (out, in) and z = x·Wᵀ (the CS231n code's X·W with W (in, out) is the same distribution). Within a study and
seed all inits share one draw of standard normals, scaled per init (common random numbers): they differ only by
what is compared. Results are identical at any --jobs (one BLAS thread per seed, float64).

The code is split by study: ``init_bench``, ``relu_spread``, ``cs231n_notes`` (with ``matrix_product``) and
``gains``, over ``forward`` (the measured forward pass and its mean-field rows); this module runs them and writes
the outputs.
"""
import json

from .. import _cli as cli, _console as console, _outputs as outputs
from . import cs231n_notes, gains, init_bench, matrix_product, relu_spread
from .forward import STUDIES


def settings(quick):
    if quick:
        return {"ib_images": 300, "rs_n": 100, "rs_width": 512, "rs_depth": 20, "cs_n": 100, "cs_width": 500,
                "cs_depth": 10, "mp_draws": 500, "g_width": 256, "g_batch": 8, "g_depth": 50, "g_nets": 2, "g_q": ()}
    return {"ib_images": 1000, "rs_n": 1000, "rs_width": 512, "rs_depth": 20, "cs_n": 1000, "cs_width": 500,
            "cs_depth": 10, "mp_draws": 4000, "g_width": 512, "g_batch": 16, "g_depth": 50, "g_nets": 4,
            "g_q": gains.GAIN_Q_MORE}


def merged(path, results):
    """``results`` over what an earlier run left in ``path``: running one study keeps the others' numbers."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    studies = old.get("studies", {}) if old.get("experiment") == "depth" else {}
    return {"experiment": "depth", "studies": {**studies, **results}}


def main(argv=None):
    p = cli.parser("python -m experiments.depth", __doc__.split("\n")[0], dtype=False, jobs=True, seeds=10,
                   quick_seeds=2)
    p.add_argument("--study", choices=STUDIES, action="append", help="run only this study (repeatable; "
                   "default all). depth.json keeps the other studies' keys from an earlier run")
    args, out, progress = cli.start(p, argv)
    studies = list(dict.fromkeys(args.study or STUDIES))
    cfg = settings(args.quick)
    seeds = [args.seed + i for i in range(args.seeds)]
    results, tables = {}, []
    X = None
    if {"init-bench", "relu-spread"} & set(studies):
        n = max(cfg["ib_images"], cfg["rs_n"])
        data = cli.load_mnist(args, n, 1)
        X = data.X_train
        progress(f"data: {data.source}; {n} images (seed {args.seed})")
    common_cfg = {"seed": args.seed, "quick": args.quick, "seeds": args.seeds}
    if "init-bench" in studies:
        res = init_bench.run(X[:cfg["ib_images"]], seeds, args.jobs, progress)
        results["init-bench"] = {**common_cfg, "data": data.info, **res}
        init_bench.plot_init_bench(res, out / "sigmoid_activation_histograms.png")
    if "relu-spread" in studies:
        res = relu_spread.run(X[:cfg["rs_n"]], cfg["rs_n"], cfg["rs_width"], cfg["rs_depth"], seeds, args.jobs,
                              progress)
        results["relu-spread"] = {**common_cfg, "data": data.info, **res}
        for case in relu_spread.RS_CASES:
            relu_spread.plot_relu_spread_hists(res, case, out / relu_spread.hist_file(case))
        relu_spread.plot_relu_spread_ex2(res, out / "relu_spread_check_ex2.png")
        relu_spread.plot_relu_spread_ratio(res, out / "relu_spread_check_relu_ratio.png")
        relu_spread.plot_relu_zero_fraction(res, out / "relu_zero_fraction.png")
    if "cs231n-notes" in studies:
        res = cs231n_notes.run(cfg["cs_n"], cfg["cs_width"], cfg["cs_depth"], seeds, args.jobs, progress)
        res["matrix_product"] = matrix_product.run(args.seed, cfg["mp_draws"])
        mp = res["matrix_product"]
        progress(f"cs231n-notes: product of 101 4×4 N(0,1) matrices, seed {args.seed}: "
                 f"‖P‖ = {mp['first_draw_norm']:.3g}"
                 f" (published {mp['published_norm']:.3g}, percentile {mp['published_percentile']:.0f} of ours); "
                 f"slope {mp['measured_slope']:.4f} vs λ₁ {mp['lyapunov_top']:.4f}")
        results["cs231n-notes"] = {**common_cfg, **res}
        cs231n_notes.plot_cs231n(res, out / "cs231n_layer_stats.png")
        matrix_product.plot_matrix_product(mp, out / "matrix_product.png")
        tables.append(cs231n_notes.cs231n_table(res))
    if "gains" in studies:
        res = gains.run(cfg["g_width"], cfg["g_batch"], cfg["g_depth"], cfg["g_nets"], cfg["g_q"], args.seed, args.jobs,
                        progress)
        results["gains"] = {**common_cfg, **res}
        gains.plot_gains(res, out / "measured_gains.png")
        tables.append(console.format_table(
            ["activation", "calculate_gain", "measured (q=1)", "mean field (q=1)", "kind"],
            [[n, f"{r['table']:.4f}", f"{r['measured']['1.0']:.4f}", f"{r['mean_field']['1.0']:.4f}", r["kind"]]
             for n, r in res["activations"].items()]))
    for t in tables:
        print()
        print(t)
    outputs.write_json(out / "depth.json", merged(out / "depth.json", results))
    progress(f"wrote {out}/depth.json ({', '.join(studies)})")
