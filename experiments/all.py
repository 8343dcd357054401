"""Every experiment in one command, then the claims ledger: each published claim beside npnet's number, in RESULTS.md.

Run:  python -m experiments.all                 (every default run, tens of minutes; figures/ and docs/RESULTS.md)
      python -m experiments.all --quick         (about 70 CPU-seconds; figures/quick/ and figures/quick/RESULTS.md)
      python -m experiments.all --report-only   (no runs: RESULTS.md again from the JSON already on disk)

The experiments run one after another, each in its own process with its own defaults (or --quick settings), its
progress lines passed through and its time printed; the first failure stops the run with its message. Then the
ledger (experiments/_ledger.py) reads every claim of experiments/claims.toml, looks npnet's number up in the JSON
the experiment wrote, applies the row's verdict rule and writes RESULTS.md: the verdict counts, then per experiment
its figures and its rows. A quick run writes its RESULTS.md beside its figures, so the committed docs/RESULTS.md
always comes from default runs.

Adding an experiment: one line in EXPERIMENTS below, its catalog entry and claims in experiments/claims.toml.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from npnet._io import atomic_write

from . import _cli as cli, _cluster, _console as console, _outputs as outputs
from . import _ledger as ledger

#: run in this order; each is ``python -m experiments.<name>``
EXPERIMENTS = [
    "symmetry",
    "gradients",
    "activations",
    "regression",
    "depth",
    "training",
    "phase",
    "glorot2010",
    "he2015",
    "bench",
]
#: left out of --quick, with the reason (printed)
NOT_QUICK = {"bench": "its --quick takes ~20 s, longer than the others together, and times nothing meaningful",
             "training": "its --quick (3 epochs, 15 s) stops before the epochs and step counts its ledger rows read; "
                         "python -m experiments.training --quick runs it alone"}

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "docs" / "RESULTS.md"


def parse(argv):
    p = cli.Parser(prog="python -m experiments.all", description=__doc__.split("\n")[0],
                   formatter_class=cli._HelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="every experiment's --quick run (about 70 CPU-seconds; bench and training left out), into "
                        "figures/quick/")
    p.add_argument("--jobs", type=cli.count_arg(cli.JOBS_MAX), default=None,
                   help="worker processes, passed to the experiments that take --jobs (default: theirs; "
                        f"{cli.at_most(cli.JOBS_MAX)})")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="passed to the experiments that take --jobs: " + _cluster.argument_help())
    p.add_argument("--out", type=cli.out_arg, default=None,
                   help="directory for every figure and JSON (default: figures/, or figures/quick/ with --quick)")
    p.add_argument("--results", type=cli.dir_arg("--results", "file"), default=None,
                   help="where to write RESULTS.md (default: docs/RESULTS.md for the default figures/, "
                        "else RESULTS.md inside --out)")
    p.add_argument("--only", action="append", choices=EXPERIMENTS, metavar="NAME",
                   help=f"run and report only these experiments (repeatable; one of {', '.join(EXPERIMENTS)})")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: write RESULTS.md from the JSON already in --out")
    return p.parse_args(argv)


def check_results(path):
    """UsageError unless RESULTS.md can go to ``path``: not a directory, under directories (made, checked
    writable). Checked before any experiment runs, so that a long run never ends unable to write its ledger."""
    try:
        if path.is_dir():
            raise cli.UsageError(f"--results {path} is a directory; give a file path, e.g. {path / 'RESULTS.md'}")
    except OSError as exc:   # e.g. a path part longer than the file system allows
        raise cli.UsageError(f"cannot write --results {path}: {exc.strerror or exc}") from None
    cli.make_dir(path.parent, "--results")


def supports_jobs(name):
    """Whether ``python -m experiments.<name>`` has a --jobs option (asked through its --help)."""
    done = subprocess.run([sys.executable, "-m", f"experiments.{name}", "--help"], cwd=ROOT, capture_output=True,
                          text=True)
    return done.returncode == 0 and "--jobs" in done.stdout


def run_one(name, argv):
    """Run one experiment; pass its progress lines (stderr) through, indented. Returns (exit code, last line)."""
    proc = subprocess.Popen([sys.executable, "-m", f"experiments.{name}", *argv], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace")
    last = ""
    for line in proc.stderr:
        sys.stderr.write("    " + line)
        sys.stderr.flush()
        last = line.strip() or last
    return proc.wait(), last


def check_catalog(names, exists=ledger.module_exists):
    """Every experiment of the claims file that exists must be in EXPERIMENTS, or it would never be run."""
    catalog = ledger.load()["experiments"]
    stray = [n for n in catalog if n not in EXPERIMENTS and exists(n)]
    if stray:
        raise ledger.LedgerError(f"experiments/{stray[0]}.py exists and has claims, but is not in EXPERIMENTS of "
                                 "experiments/all.py: add it there")
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise ledger.LedgerError(f"{unknown[0]} has no [experiments.{unknown[0]}] entry in claims.toml")


def main(argv=None):
    args = parse(argv)
    cli.check_cluster(args)   # --dask or $NPNET_DASK_SCHEDULER, before the first experiment (each connects itself)
    progress = console.Progress()
    out = args.out if args.out is not None else ROOT / ("figures/quick" if args.quick else "figures")
    names = [n for n in EXPERIMENTS if n in (args.only or EXPERIMENTS)]
    try:
        check_catalog(names)
    except ledger.LedgerError as exc:
        raise cli.UsageError(str(exc)) from None
    if not args.report_only:
        cli.check_data_environment()      # the experiments would each fail on it, after the first had run
    if args.results is not None:
        check_results(args.results)
    out = cli.prepare_out(argparse.Namespace(out=out, quick=args.quick)).resolve()
    if args.results is not None:
        results = args.results
    elif args.out is None and not args.quick:
        results = DEFAULT_RESULTS
    else:
        results = out / "RESULTS.md"
        check_results(results)
    if args.quick and not args.report_only:
        for n in names:
            if n in NOT_QUICK:
                progress(f"{n}: left out of --quick: {NOT_QUICK[n]}")
        names = [n for n in names if n not in NOT_QUICK]

    times = []
    if not args.report_only:
        flags = (["--quick"] if args.quick else []) + ["--out", str(out)]
        for i, name in enumerate(names, 1):
            extra = (["--jobs", str(args.jobs)] if args.jobs is not None else []) + \
                (["--dask", args.dask] if args.dask is not None else [])
            extra = extra if extra and supports_jobs(name) else []
            progress(f"[{i}/{len(names)}] python -m experiments.{name} {' '.join(flags + extra)}")
            start = time.perf_counter()
            code, last = run_one(name, flags + extra)
            seconds = time.perf_counter() - start
            if code != 0:
                raise cli.UsageError(f"experiments.{name} failed (exit {code}) after {seconds:.1f} s: {last}")
            times.append((name, seconds))
            progress(f"[{i}/{len(names)}] {name} done in {seconds:.1f} s")

    try:
        book = ledger.build(out, names)
        text = ledger.render(book, results, out, quick=args.quick, partial=names != EXPERIMENTS)
    except ledger.LedgerError as exc:
        raise cli.UsageError(str(exc)) from None
    try:
        atomic_write(results, lambda fh: fh.write(text.encode("utf-8")), "wb")
    except OSError as exc:
        raise outputs.OutputError(f"cannot write {results}: {exc.strerror or exc}") from None

    if times:
        print(console.format_table(["experiment", "seconds"], [[n, f"{s:.1f}"] for n, s in times]
                                   + [["total", f"{sum(s for _, s in times):.1f}"]]))
    counts = book.counts()
    print(f"ledger: {len(book.rows)} rows: " + ", ".join(f"{counts[v]} {v}" for v in ledger.VERDICTS))
    todo = book.needing_keys()
    if todo:
        print("rows still needing a key path (pending experiments): "
              + "; ".join(f"{e}: {len(ids)}" for e, ids in todo.items()))
    progress(f"wrote {os.path.relpath(results)}")


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "experiments.all"))
