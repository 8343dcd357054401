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
             first layer for tanh, sigmoid and relu'(0) = 1, and under SGD. The lecture's 10 epochs of 60,000 images
             are 9,380 Adam steps: the default and float32 all-ones variants are run again for as many steps on
             the offline split (75 epochs of 8,000: "default_steps", "all_ones_blas_f32_steps"; --quick: 2 epochs).
             Figure lecture_inits.png.
allzero      why init-bench's all-zero 784-100-10 sigmoid net (SGD lr 0.1, 5 epochs) reached 0.245: the
             candidates batch size, more epochs, float32 BLAS round-off, input normalization and the training-set
             size, measured, and the ceiling of the one-hidden-unit net it is equivalent to; then batch 50, the
             batch the sweep implies, to check that it fits both published numbers. Figure allzero_escape.png.

Every run is a task for ``parallel.parallel_map`` (joblib, one BLAS thread per task): ``--jobs N`` gives the same
JSON as ``--jobs 1``, byte for byte, apart from the "timing" entry; ``--dask ADDRESS`` sends the runs to a Dask
cluster (each worker loads the carve itself, from the source the parent resolved). A run whose loss turns NaN/inf is recorded as diverged, with
its epoch and step, and the others go on.

The code is split by study: ``init_bench``, ``lecture`` and ``allzero``, over ``runs`` (one training run as a
picklable task, and the statistics over seeds the three share); this module runs them and writes the outputs.
"""
import time

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from .allzero import (ALLZERO, ALLZERO_BATCHES, ALLZERO_FIT, ALLZERO_PUBLISHED, allzero_figure, allzero_summary,
                      allzero_tasks)
from .init_bench import (BENCH, BENCH_BATCHES, BENCH_INITS, BENCH_PUBLISHED, QUICK_BENCH_BATCHES, bench_figures,
                         bench_summary, bench_tasks, first_2000_ones_share)
from .lecture import (LECTURE, LECTURE_STEP_MATCHED, LECTURE_STUDY_STEPS, LECTURE_VARIANTS, lecture_figure,
                      lecture_summary, lecture_tasks, step_matched_epochs)
from .runs import NORMALIZE, fmt, jsonable, progress_line, run_one, study_data

__all__ = ["main", "run_one"]

STUDIES = ("init-bench", "lecture", "allzero")


def parse(argv):
    p = cli.parser("python -m experiments.training", __doc__.split("\n")[0], dtype=False, jobs=True,
                   seeds=5, quick_seeds=2)
    p.add_argument("--study", action="append", choices=STUDIES, default=None,
                   help="run only this study (repeatable; default: all); training.json then holds only the "
                        "studies run, so give another --out to keep the full run's file")
    args, out, progress = cli.start(p, argv)
    args.study = [s for s in STUDIES if s in (args.study or STUDIES)]
    return args, out, progress


def main(argv=None):
    args, out, progress = parse(argv)
    wall = time.perf_counter()
    seeds = [args.seed + i for i in range(args.seeds)]
    tasks, data_info, shares = [], {}, {}
    if "init-bench" in args.study or "allzero" in args.study:
        n = BENCH["quick_n"] if args.quick else BENCH["n"]
        ref, data_info["init-bench"], shares["init-bench"] = study_data(args, progress, *n)
        data_info["allzero"], shares["allzero"] = data_info["init-bench"], shares["init-bench"]
        carve, ref_allzero = data_info["init-bench"]["source"], ref
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
        ref_lecture = ref
        tasks += lecture_tasks({**ref, "normalize": True}, data_info["lecture"]["source"], seeds,
                               LECTURE["quick_epochs"] if args.quick else LECTURE["epochs"])
    # added runs, after all the others: the step-matched lecture variants and the batch that fits 0.245
    if "lecture" in args.study:
        matched = LECTURE["quick_epochs"] if args.quick else step_matched_epochs(data_info["lecture"]["n_train"])
        tasks += lecture_tasks({**ref_lecture, "normalize": True}, data_info["lecture"]["source"], seeds, None,
                               {name: (base, matched) for name, base in LECTURE_STEP_MATCHED.items()})
    if "allzero" in args.study:
        tasks += allzero_tasks(ref_allzero, data_info["allzero"]["source"], seeds,
                               ALLZERO["quick_epochs"] if args.quick else ALLZERO["epochs"], None,
                               candidates=ALLZERO_FIT, ceiling=False)
    progress(f"{len(tasks)} runs ({', '.join(args.study)}; {args.seeds} seeds), {parallel.where(args.jobs)}")
    results = parallel.parallel_map(run_one, tasks, args.jobs, on_result=progress_line(progress, len(tasks)))
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
                               "variants": {k: v[-1] for k, v in LECTURE_VARIANTS.items()},
                               "study_steps": LECTURE_STUDY_STEPS,
                               "step_matched": {k: {"repeats": v, "epochs": LECTURE["quick_epochs"] if args.quick
                                                    else step_matched_epochs(data_info["lecture"]["n_train"])}
                                                for k, v in LECTURE_STEP_MATCHED.items()}
                               if "lecture" in data_info else {}},
                   "allzero": {**ALLZERO, "batches": list(ALLZERO_BATCHES),
                               "fit_batches": [v[0] for v in ALLZERO_FIT.values()]}},
        "data": data_info,
        "published": {"init-bench": BENCH_PUBLISHED, "allzero": ALLZERO_PUBLISHED},
        "runs": records,
        "studies": studies,
        "timing": {"wall_seconds": total, "run_seconds_per_study": seconds, "jobs": args.jobs},
    }
    outputs.write_json(out / "training.json", jsonable(result))
    cpu = sum(v["cpu"] for v in seconds.values())
    progress(f"wrote {out}/training.json and the figures; total {total:.1f} s wall ({parallel.where(args.jobs)}), "
             f"{cpu:.1f} s CPU in the runs (the wall time grows with the machine's load)")


def report(studies):
    """The verdicts, printed."""
    bench = studies.get("init-bench")
    if bench:
        print("\ninit-bench (batch 100): published vs ours (mean ± SD over seeds)")
        print(console.format_table(["init", "quantity", "epoch", "published", "ours", "min–max", "verdict",
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
        print(console.format_table(["candidate", "steps/epoch", "acc ep 1", "acc ep 5", "study's ep-5 step",
                                    "acc there", "reaches 0.245 at step", "implied batch", "distinct units", "fits"], [
            [n, c["steps_per_epoch"], f"{c['test_acc_epoch1']['mean']:.3f}",
             f"{c['test_acc_epoch5']['mean']:.3f} ± {c['test_acc_epoch5']['sd']:.3f}",
             c["study_step_epoch5_on_10000_images"], fmt(c["test_acc_at_study_step"]),
             fmt(c["mean_curve_reaches_published_at_step"], ".0f"), fmt(c["implied_batch_for_published"], ".0f"),
             c["distinct_hidden_units_final"], c["fits_published"]] for n, c in allzero["candidates"].items()]))
        one = allzero["one_unit_net_best_test_acc"]
        print(f"best test accuracy of any all-zero run: {fmt(allzero['all_zero_best_test_acc'])}; one hidden unit "
              f"(784-1-10, Adam): {fmt(one and one['mean'])}")
