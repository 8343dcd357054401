"""Which deep nets can train at all: the order-to-chaos phase diagram of trainability, measured and predicted.

Run:  python -m experiments.phase                 (168 cells: 16 min on 2 shared cores; writes figures/)
      python -m experiments.phase --quick         (seconds; the same files in figures/quick/)
      python -m experiments.phase --jobs 1        (one process; results are bitwise identical at any --jobs)

Networks: MLPs 784 → L hidden layers of width 100 → 10, tanh (and a ReLU row), W ~ N(0, σ_w²/fan_in),
b ~ N(0, σ_b²) with σ_b² = 0.05, the output layer drawn the same way. Every cell (σ_w², L) of the grid is trained
on MNIST with one protocol (plain SGD, batch 128, a fixed number of steps, lr = 0.3 / L; see PROTOCOL) and its
test accuracy recorded. A cell counts as *trained* when its test accuracy reaches 0.5 (chance is 0.1).

Mean-field theory (npnet.meanfield, Poole et al. 2016; Schoenholz et al. 2017, "Deep Information Propagation"):
q* the fixed point of the length map, χ₁ = σ_w² E[φ'(√q* z)²], the correlation depth ξ_c = −1/ln χ_c and the
critical line χ₁ = 1 (tanh at σ_b² = 0.05: σ_w² ≈ 1.761; ReLU: σ_w² = 2). The published finding: a network
trains when L ≲ 6ξ_c and fails beyond. The heatmap carries L = 3ξ_c and 6ξ_c; the JSON and the printout count
how many cells agree with "trained iff L ≤ 6ξ_c".

ξ measured directly: 64 pairs of inputs with correlation c₀ = 0.99 (both at length q*) go through a random tanh
net of width 1000. Ordered side: the pairs merge and ξ is the decay length of 1 − c_l, fitted in the linear
regime (:func:`fit_correlation_depth`). Chaotic side: the approach to c* < 1 drowns in the ~1/√width noise of
c_l within 1–2 e-folds, so ξ is read from the rate at which the fluctuations around c* relax, the same slope χ_c
of the correlation map (:func:`relaxation_depth`).

Grid and budget: 12 σ_w² × 10 depths (2 … 100) for tanh and 12 × 4 depths (2, 10, 30, 60) for ReLU, 600 steps
(10 passes). A cell costs ∝ (L + 8)·steps (the 784-wide first layer ≈ 8 hidden ones); at 0.13 ms per layer-step
(float32, one core, quiet) the grid is ~9 core-minutes, ≈ 5 minutes on 2 cores: sized so that it still finishes
within the 30-minute budget on a 2-core machine shared 5× (measured there: 0.68 ms per layer-step).

Cache and resume: each cell's result is written, atomically, to <cache>/<activation>-w<σ_w²>-L<L>-<hash>.json
as soon as it is finished, the hash covering every setting that changes the result (protocol, data, seed, dtype,
code version). A run reads every matching file first and trains only the missing cells, so an interrupted run
(Ctrl-C, a killed job, a lost node) resumes where it stopped and ends with the same phase.json as an
uninterrupted one. Resuming is the default; ``--no-cache`` neither reads nor writes the cache; delete the directory
to start over. ``--cache`` defaults to <out>/.phase-cache/ (git-ignored).

Cluster: the cells run through ``experiments._parallel.parallel_map`` (joblib, one BLAS thread per cell).
``--dask ADDRESS`` (or ``$NPNET_DASK_SCHEDULER``) sends them to a Dask cluster instead, with the same results; the
workers write the cache, so it must be a directory on a file system they share, given as an absolute path when
the scheduler is on another machine (a relative one, such as the default under a relative --out, is refused then).

The code is split by part: ``protocol`` (grid, budget, published numbers), ``theory`` (mean field),
``correlation_depth`` (ξ measured), ``grid`` (the trained cells, their cache and the verdict) and ``plots``;
this module holds the command line and writes the outputs.
"""
import argparse
import functools
import math
import re
import time
from pathlib import Path

import numpy as np

from npnet import meanfield

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from .correlation_depth import fit_correlation_depth, measure_xi, relaxation_depth
from .grid import annotate, cache_path, cell_settings, deepest_trained, read_cached, run_cells, train_cell, verdict
from .protocol import (BATCH, DTYPE, LR_SCALE, N_TEST, N_TRAIN, PROTOCOL, PUBLISHED, QUICK, RELU_DEPTHS, SIGMA_B2,
                       STEPS, TANH_DEPTHS, TANH_SIGMA_W2, THEORY_POINTS, TRAINED, WIDTH, XI_C0, XI_PAIRS,
                       XI_SIGMA_W2, XI_WIDTH)
from .plots import figures
from .theory import theory_curve, theory_point

__all__ = ["main", "cache_path", "cell_settings", "read_cached", "train_cell", "measure_xi", "fit_correlation_depth",
           "relaxation_depth", "theory_point", "SIGMA_B2", "XI_C0"]


#: bounds of the grid options (stated in --help): a grid beyond them is a typo, not a run that could finish
LIST_MAX, DEPTH_MAX, STEPS_MAX = 100, 1_000, 1_000_000


def _float_list(text):
    items = text.split(",")
    try:
        values = [float(v) for v in items]
    except ValueError:
        values = None
    if not values or not all(0.0 < v <= 100.0 and math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated σ_w² values in (0, 100], got {text!r}")
    if len(values) > LIST_MAX:
        raise argparse.ArgumentTypeError(f"got {len(values):,} σ_w² values; at most {LIST_MAX} values")
    return tuple(values)


def _int_list(text, allow_empty=False):
    if allow_empty and text.strip() == "":
        return ()
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text) or any(int(v) < 1 for v in text.split(",")):
        raise argparse.ArgumentTypeError(f"expected comma-separated depths >= 1, got {text!r}")
    values = tuple(int(v) for v in text.split(","))
    if len(values) > LIST_MAX:
        raise argparse.ArgumentTypeError(f"got {len(values):,} depths; at most {LIST_MAX} values")
    if max(values) > DEPTH_MAX:
        raise argparse.ArgumentTypeError(f"expected depths >= 1 and at most {DEPTH_MAX:,}, got {max(values)}")
    return values


def _check_cache(args):
    """An explicit --cache is created (and checked writable) before --out: a bad one leaves nothing behind."""
    if args.cache is not None and not args.no_cache:
        cli.make_dir(args.cache, "--cache")


def make_parser():
    p = cli.parser("python -m experiments.phase", __doc__.split("\n")[0], jobs=True, shared="--cache")
    p.add_argument("--steps", type=cli.count_arg(STEPS_MAX), default=None,
                   help=f"SGD steps per cell (default: {STEPS}, {QUICK['steps']} with --quick; {cli.at_most(STEPS_MAX)})")
    p.add_argument("--sigma-w2", type=_float_list, default=None,
                   help="comma-separated σ_w² grid, values in (0, 100] (default: "
                        + ",".join(f"{v:g}" for v in TANH_SIGMA_W2) + f"; {LIST_MAX} values at most)")
    p.add_argument("--depths", type=_int_list, default=None,
                   help="comma-separated depths of the tanh grid (default: " + ",".join(map(str, TANH_DEPTHS))
                        + f"; each {cli.at_most(DEPTH_MAX)}, {LIST_MAX} values at most)")
    p.add_argument("--relu-depths", type=functools.partial(_int_list, allow_empty=True), default=None,
                   help="depths of the ReLU row, '' for none (default: " + ",".join(map(str, RELU_DEPTHS))
                        + f"; each {cli.at_most(DEPTH_MAX)}, {LIST_MAX} values at most)")
    p.add_argument("--cache", type=cli.dir_arg("--cache"), default=None,
                   help="directory of the per-cell cache (default: <out>/.phase-cache); with --dask the workers "
                        "write it, so it must be on a file system they share (absolute with a remote scheduler)")
    p.add_argument("--no-cache", action="store_true",
                   help="train every cell; neither read nor write the cache (default: resume from it)")
    p.set_defaults(dtype=DTYPE)
    return p


def cache_option(args, out):
    """The cache directory as given (--cache, else <out>/.phase-cache), or None with --no-cache."""
    return None if args.no_cache else (args.cache or out / ".phase-cache")


def main(argv=None):
    args, out, progress = cli.start(make_parser(), argv, check=_check_cache,
                                    shared=lambda a, o: {"--cache": cache_option(a, o)})
    t0 = time.perf_counter()
    q = args.quick
    steps = args.steps or (QUICK["steps"] if q else STEPS)
    sws = args.sigma_w2 or (QUICK["sigma_w2"] if q else TANH_SIGMA_W2)
    depths = args.depths or (QUICK["depths"] if q else TANH_DEPTHS)
    relu_depths = args.relu_depths if args.relu_depths is not None else (QUICK["relu_depths"] if q else RELU_DEPTHS)
    n_train, n_test = (QUICK["n_train"], QUICK["n_test"]) if q else (N_TRAIN, N_TEST)
    cache_dir = cache_option(args, out)
    if cache_dir is not None:
        cli.make_dir(cache_dir, "--cache")
        cache_dir = Path(cache_dir).absolute()       # the workers (a Dask worker's own working directory) write it

    progress(f"loading MNIST ({n_train}/{n_test} requested)")
    data = cli.load_mnist(args, n_train, n_test, dtype=np.dtype(args.dtype).type)
    progress(f"data: {data.source}")

    progress("theory: q*, χ₁, ξ_c by quadrature")
    fine = np.round(np.linspace(0.5, 4.0, QUICK["theory_points"] if q else THEORY_POINTS), 4)
    theory = {}
    for act in ("tanh", "relu"):
        theory[act] = theory_curve(act, fine)
        theory[act]["critical_sigma_w2"] = meanfield.critical_sigma_w2(act, SIGMA_B2)
    theory_by_cell = {(a, s): theory_point(a, s) for a in ("tanh", "relu") for s in sws}

    key = dict(steps=steps, n_train=len(data.X_train), n_test=len(data.X_test), seed=args.seed, dtype=args.dtype,
               data=data.source)
    cells = [cell_settings("tanh", s, d, data_source=key["data"], **_without(key, "data")) for d in depths for s in sws]
    cells += [cell_settings("relu", s, d, data_source=key["data"], **_without(key, "data"))
              for d in relu_depths for s in sws]
    progress(f"training {len(cells)} cells: {steps} steps each (cache: {cache_dir or 'off'})")
    results = run_cells(cells, data, cache_dir, args.jobs, progress)
    rows = annotate(cells, results, theory_by_cell)

    xi_settings = (QUICK["xi_sigma_w2"], QUICK["xi_width"]) if q else (XI_SIGMA_W2, XI_WIDTH)
    progress(f"measuring ξ: c₀ = {XI_C0} pairs through width-{xi_settings[1]} tanh nets, σ_w² = "
             + ", ".join(f"{s:g}" for s in xi_settings[0]))
    xi_rows = parallel.parallel_map(measure_xi, [(s, SIGMA_B2, xi_settings[1], XI_PAIRS, XI_C0, args.seed)
                                                 for s in xi_settings[0]], args.jobs)
    for x in xi_rows:
        progress(f"  σ_w² = {x['sigma_w2']:g}: ξ measured {_fmt(x['xi_measured'])} vs formula "
                 f"{_fmt(x['xi_formula'])}; c_∞ {x['c_inf_measured']:.3f} vs c* {x['c_star_formula']:.3f}")

    verdicts = {act: verdict(rows, act) for act in ("tanh", "relu") if any(r["activation"] == act for r in rows)}
    deepest = {act: deepest_trained(rows, act) for act in verdicts}
    result = {
        "experiment": "phase",
        "data": data.info,
        "protocol": {"width": WIDTH, "sigma_b2": SIGMA_B2, "batch": BATCH, "steps": steps, "lr": f"{LR_SCALE} / L",
                     "lr_rule": PROTOCOL, "init": "W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²), every layer",
                     "trained_if_test_acc_at_least": TRAINED, "dtype": args.dtype, "seed": args.seed,
                     "quick": q, "n_train": len(data.X_train), "n_test": len(data.X_test),
                     "sigma_w2": list(sws), "depths": list(depths), "relu_depths": list(relu_depths)},
        "theory": theory,
        "correlation_depth": {"width": xi_settings[1], "pairs": XI_PAIRS, "c0": XI_C0, "rows": xi_rows},
        "cells": rows,
        "verdict": verdicts,
        "deepest_trained": deepest,
        "published": PUBLISHED,
    }
    report(result)
    figures(result, out)
    outputs.write_json(out / "phase.json", result)
    progress(f"wrote {out}/phase_diagram.png, {out}/phase_correlation_depth.png and {out}/phase.json")
    print(f"total time {time.perf_counter() - t0:.0f} s ({parallel.where(args.jobs)})")


def _without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def report(result):
    """The printed summary: data, theory, measured ξ, the deepest trained depth per σ_w², the verdict."""
    print(f"\ndata: {result['data']['source']}")
    th, relu = result["theory"]["tanh"], result["theory"]["relu"]
    print(f"critical σ_w² (χ₁ = 1, σ_b² = {SIGMA_B2}): tanh {th['critical_sigma_w2']:.4f} "
          f"(published ≈ {PUBLISHED['critical_sigma_w2_tanh']}), ReLU {relu['critical_sigma_w2']:g}")
    print("\nξ measured on random nets vs the formula:")
    print(console.format_table(
        ["σ_w²", "phase", "method", "ξ measured", "ξ formula", "ratio", "c_∞ measured", "c* formula"],
        [[f"{x['sigma_w2']:g}", x["phase"], x["method"], _fmt(x["xi_measured"]), _fmt(x["xi_formula"]),
          _fmt(x["xi_measured"] / x["xi_formula"] if x["xi_measured"] and x["xi_formula"] else None, ".3f"),
          f"{x['c_inf_measured']:.3f}", f"{x['c_star_formula']:.3f}"] for x in result["correlation_depth"]["rows"]]))
    for act, table in result["deepest_trained"].items():
        print(f"\n{act}: deepest trained depth (test acc ≥ {TRAINED}) per σ_w², beside 6ξ_c:")
        print(console.format_table(["σ_w²", "deepest trained L", "6 ξ_c", "best test acc"],
                                   [[f"{t['sigma_w2']:g}", t["deepest_trained"] or "none",
                                    {None: "— (q* = ∞)", "inf": "∞"}.get(t["six_xi_c"]) or f"{t['six_xi_c']:.1f}",
                                    f"{t['best_test_acc']:.3f}"] for t in table]))
        for name, v in result["verdict"][act].items():
            print(f"{act}, trained iff L ≤ {name[:-2]} ξ_c: {v['agree']}/{v['cells']} cells agree "
                  f"(inside trained {v['inside_trained']}, outside failed {v['outside_failed']})")
