"""Synthetic regression under each init, and the Kaiming/Xavier ratio checks done literally and correctly.

Run:  python -m experiments.regression            (full run, ~40 s of CPU time over --jobs workers; writes figures/)
      python -m experiments.regression --quick    (seconds; the same files in figures/quick/)

Reproduces the study `kaiming-analysis` (studies/004, PyTorch float32; here float64):
  1. Data and teachers. X = [x1, x2, x3], x1 ~ N(2, 1), x2 ~ U(−2, 4), x3 = sin(2·U(−1, 1)) + 1, n = 10,000.
     Teachers: linear w = [1.2, −0.5, 2.2], b = −2; 3-10-1 MLPs with relu, sigmoid and tanh hidden layers
     (W1 = 2·N(0, 1), the study's b1, W2 ~ N(0, 1), b2 = 1); y = f(X) + N(0, 1). KDEs of x1, x2, x3, y.
  2. Students, full-batch SGD and MSE for 100 epochs. Linear 3→1 (lr 0.1) from zero and random init; 3-10-1 tanh
     (lr 0.01) from zero, one, the study's "random" `init.normal_(w, 0.01)` — mean 0.01, std 1 —, the intended
     N(0, 0.01²), He and Xavier; every bias 0. Every student on every teacher, ≥ 5 seeds (a seed draws the data,
     the teachers, the noise and the students). Zero and one init run with exact products (npnet.products), so
     their symmetry checks — zero init moves only the output bias, one init keeps every hidden row identical —
     are np.array_equal.
  3. The study's checks of E[relu(z)²]/Var(z) ≈ 1/2 and E[tanh(z)²]/Var(z) ≈ 1: literally (z = w*X elementwise,
     one draw of w, Var(z) in the denominator, "standardized" as (X − mean)/var), over 200+ draws of that same
     computation, and correctly (z = X·w summed over the inputs, w ~ N(0, gain²/fan_in), E[z²] in the
     denominator, the distribution over 200+ draws of w: one draw = one unit).
The printed loss is the study's: the MSE of the forward pass before each step (the last entry is before step 100).

The code is split by part: ``teachers`` (1), ``students`` (2) and ``ratio_checks`` (3); this module runs them,
prints the tables and writes the outputs.
"""
import numpy as np

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from .ratio_checks import CHECKS, plot_ratios, run_check, standardization_check, verdicts
from .students import (INITS, LINEAR_INITS, PUBLISHED_ONE_OUT, PUBLISHED_ONE_ROW, PUBLISHED_ZERO_BIAS,
                       SYMMETRIC_INITS, final_table, plot_inits, published_rows, published_teacher_implied,
                       random_reading, run_cell)
from .teachers import EPOCHS, LR_LINEAR, LR_MLP, N, QUICK_N, TEACHERS, make_data, plot_kde


DRAWS_MAX = 1_000_000   # draws of w per ratio check: --draws beyond is a typo (stated in --help)


def main(argv=None):
    p = cli.parser("python -m experiments.regression", __doc__.split("\n")[0], epochs=EPOCHS, data=False,
                   dtype=False, jobs=True, seeds=10, quick_seeds=2)
    p.add_argument("--draws", type=cli.count_arg(DRAWS_MAX), default=None,
                   help=f"draws of w per ratio check (default: 400, 40 with --quick; {cli.at_most(DRAWS_MAX)})")
    args, out, progress = cli.start(p, argv)
    n = QUICK_N if args.quick else N
    draws = args.draws or (40 if args.quick else 400)
    seeds = [args.seed + i for i in range(args.seeds)]
    tasks = [(s, t, n, args.epochs) for s in seeds for t in TEACHERS]
    progress(f"{len(tasks)} (seed, teacher) cells × {len(INITS) + len(LINEAR_INITS)} students, n = {n}, "
             f"{args.epochs} epochs, {parallel.where(args.jobs)}")
    records = [r for cell in parallel.parallel_map(run_cell, tasks, args.jobs) for r in cell]
    progress(f"{len(records)} runs trained; {len(CHECKS)} ratio checks with {draws} draws each")
    checks = parallel.parallel_map(run_check, [(i, args.seed, n, draws) for i in range(len(CHECKS))], args.jobs)
    progress("ratio checks done")

    rows = published_rows(records)
    reading = random_reading(rows)
    judged = verdicts(checks)
    mech = [r for r in records if r["mechanism"] is not None]
    implied = published_teacher_implied(records, n, args.epochs)

    print()
    print("3-10-1 tanh student on the tanh teacher, final MSE (before step "
          f"{args.epochs}), over {args.seeds} seeds:")
    print(console.format_table(
        ["init", "published", "ours median", "ours min–max", "published ÷ He", "ours ÷ He median", "min–max",
         "verdict"],
        [[r["init"], "-" if r["published"] is None else r["published"], f"{r['median']:.2f}",
          f"{r['min']:.2f}–{r['max']:.2f}", "-" if r["published"] is None else f"{r['published_over_he']:.2f}",
          f"{r['over_he_median']:.2f}", f"{r['over_he_min']:.2f}–{r['over_he_max']:.2f}", r["verdict"]]
         for r in rows]))
    print(reading["text"])
    finals = final_table(records)
    print()
    print("final MSE, median over seeds (every student × teacher):")
    print(console.format_table(["student", "init", *TEACHERS],
                               [[s, i, *[f"{np.median(finals[(s, t, i)]):.2f}" for t in TEACHERS]]
                               for s, inits in (("linear 3-1", LINEAR_INITS), ("3-10-1 tanh", list(INITS)))
                               for i in inits]))
    print()
    ok = all(r["mechanism"]["confirmed"] for r in mech)
    one = [r["mechanism"] for r in mech if r["init"] == "one" and r["teacher"] == "tanh"][0]
    zero = [r["mechanism"] for r in mech if r["init"] == "zero" and r["student"] == "3-10-1 tanh"
            and r["teacher"] == "tanh"][0]
    print(f"mechanisms (np.array_equal, {len(mech)} runs): {'all confirmed' if ok else 'NOT all confirmed'}. "
          f"zero init: only the output bias moves, to {zero['output_bias']:.4f} (closed form "
          f"{zero['output_bias_closed_form']:.4f}; published {PUBLISHED_ZERO_BIAS}); one init: {one['distinct_rows']} "
          f"distinct hidden row {np.round(one['row'], 4).tolist()}, output weights all {one['output_weight']:.4f} "
          f"(published {PUBLISHED_ONE_ROW}, {PUBLISHED_ONE_OUT})")
    print(f"the published zero-init numbers imply a tanh teacher with mean y {implied['published_implies_mean_y']:.3f} "
          f"and Var(y) {implied['published_implies_var_y']:.2f}; ours per seed: Var(y) "
          f"{min(implied['our_var_y_per_seed']):.2f}–{max(implied['our_var_y_per_seed']):.2f}")
    print()
    print(console.format_table(
        ["check", "published", "literal (1 draw)", "literal 5–95%", "correct median", "correct 5–95%", "mean over units"],
        [[c["name"], "-" if c["published"] is None else c["published"],
          f"{c['literal']:.2f}" if "literal" in c else "-",
          f"{c['literal_draws']['q05']:.2f}–{c['literal_draws']['q95']:.2f}" if "literal" in c else "-",
          f"{c['correct']['median']:.3f}", f"{c['correct']['q05']:.3f}–{c['correct']['q95']:.3f}",
          f"{c['correct']['mean']:.3f}"] for c in checks]))
    print()
    print("fan-in or noise? " + judged["fan_in_vs_noise"]["answer"])
    for key in ("kaiming_needs_zero_mean_w_or_x", "zscore_helps_minmax_not",
                "xavier_needs_small_zero_mean_inputs_and_tanh"):
        print(f"\"{judged[key]['claim']}\": {judged[key]['verdict']}")

    X, ys = make_data(n, args.seed)
    plot_kde(X, ys, args.seed, out / "regression_kde.png")
    plot_inits(records, out / "regression_inits.png")
    plot_ratios(checks, out / "regression_kaiming_ratios.png")
    outputs.write_json(out / "regression.json", {
        "experiment": "regression",
        "config": {"n": n, "epochs": args.epochs, "lr_linear": LR_LINEAR, "lr_mlp": LR_MLP, "seeds": seeds,
                   "draws": draws, "quick": args.quick, "dtype": "float64",
                   "products": f"exact for {', '.join(SYMMETRIC_INITS)}, blas otherwise",
                   "loss_recorded": "MSE of the forward pass before each step (the study's loss.item()); per-epoch "
                                    "curves to 6 significant digits, final_mse in full",
                   "inits": {k: v[1] for k, v in INITS.items()}},
        "published_vs_ours": rows, "random_reading": reading, "published_teacher_implied": implied,
        "mechanisms_confirmed": ok,
        "published_mechanisms": {"zero_output_bias": PUBLISHED_ZERO_BIAS, "one_hidden_row": PUBLISHED_ONE_ROW,
                                 "one_output_weight": PUBLISHED_ONE_OUT},
        "runs": [{**r, "mse": [float(f"{v:.6g}") for v in r["mse"]]} for r in records],   # curves to 6 digits
        "ratio_checks": [{k: v for k, v in c.items() if not k.endswith("_values")} for c in checks],
        "verdicts": judged,
        "standardization": standardization_check(n, args.seed),
    })
    progress(f"wrote {out}/regression_*.png and {out}/regression.json")
