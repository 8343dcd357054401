"""What every experiment shares: the command line, progress lines, atomic output, and plotting setup.

An experiment module defines ``main(argv=None)`` and ends with ``raise SystemExit(common.run(main, prog))``, so
that bad input becomes one line on stderr and exit code 2, never a traceback.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # experiments only write files; never need a screen
import matplotlib.pyplot as plt  # noqa: E402

from npnet import _validate  # noqa: E402
from npnet import data as npdata  # noqa: E402
from npnet._io import atomic_write  # noqa: E402

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: reported as one line and exit code 2."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except the uninformative ones (None, False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (``prog: error: …``) and exit code 2."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def positive_int_arg(text):
    """argparse type: an integer >= 1."""
    try:
        return _validate.positive_int("value", int(text))
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None


SEED_MAX = 2**32 - 1  # what every seeded library here accepts (NumPy, scikit-learn, PyTorch)


def seed_arg(text):
    """argparse type: a seed, an integer in [0, 2³² − 1]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed must lie in [0, {SEED_MAX}], got {value}")
    return value


def _data_source(text):
    try:
        return npdata.validate_source(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser(prog, description, *, epochs=None, quick_epochs=None, data=True, dtype=True, jobs=False,
           seeds=None, quick_seeds=None, dtype_help="floating-point type"):
    """A parser with the options every experiment has: --seed, --quick, --out (and --data, --dtype unless off).

    With ``epochs`` it also has --epochs, whose default is ``epochs`` (``quick_epochs`` under --quick); read it
    with ``resolve_epochs(args)``. ``--out`` defaults to figures/, and to figures/quick/ under --quick so that a
    quick run never overwrites the committed figures of the default run. With ``jobs`` it has --jobs (worker
    processes for :func:`parallel_map`, default all cores); with ``seeds`` it has --seeds (runs per setting,
    default ``seeds``, ``quick_seeds`` under --quick), resolved by :func:`start` like --epochs. ``dtype_help`` says
    what --dtype applies to, where that is not everything.
    """
    p = Parser(prog=prog, description=description, formatter_class=_HelpFormatter)
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the np.random.Generator behind every random draw")
    p.add_argument("--quick", action="store_true", help="a small run in seconds (few samples and epochs), "
                   "writing the same files (to figures/quick/ unless --out is given); used by the tests")
    p.add_argument("--out", type=Path, default=None, help="directory for the PNG figures and JSON "
                   "(default: figures/, or figures/quick/ with --quick)")
    if data:
        p.add_argument("--data", type=_data_source, default=None,
                       help="MNIST source: auto, openml, bundled or an IDX directory "
                            f"(default: ${npdata.SOURCE_ENV} if set, else auto)")
    if dtype:
        p.add_argument("--dtype", choices=sorted(_validate.DTYPES), default="float64", help=dtype_help)
    if epochs is not None:
        quick = f" ({quick_epochs} with --quick)" if quick_epochs else ""
        p.add_argument("--epochs", type=positive_int_arg, default=None,
                       help=f"training epochs per run (default: {epochs}{quick})")
        p.set_defaults(default_epochs=epochs, quick_epochs=quick_epochs or epochs)
    if jobs:
        p.add_argument("--jobs", type=positive_int_arg, default=os.cpu_count() or 1,
                       help="worker processes (joblib); results are identical to --jobs 1")
    if seeds is not None:
        quick = f" ({quick_seeds} with --quick)" if quick_seeds else ""
        p.add_argument("--seeds", type=positive_int_arg, default=None,
                       help=f"seeds per setting: --seed, --seed+1, … (default: {seeds}{quick})")
        p.set_defaults(default_seeds=seeds, quick_seeds=quick_seeds or seeds)
    return p


def resolve_epochs(args):
    """--epochs if given, else the experiment's default for a full or a --quick run."""
    if args.epochs is not None:
        return args.epochs
    return args.quick_epochs if args.quick else args.default_epochs


def start(parser, argv):
    """Parse ``argv``, resolve --epochs (if the parser has it) and prepare --out: (args, out directory, Progress)."""
    args = parser.parse_args(argv)
    if hasattr(args, "default_epochs"):
        args.epochs = resolve_epochs(args)
    if hasattr(args, "default_seeds") and args.seeds is None:
        args.seeds = args.quick_seeds if args.quick else args.default_seeds
    return args, prepare_out(args), Progress()


def run(main, prog, argv=None):
    """Call ``main(argv)``; turn bad input into one stderr line and exit code 2. Returns the exit code."""
    try:
        main(argv)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except npdata.DataError as exc:
        print(f"{prog}: data error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; no partial files were written", file=sys.stderr)
        return 130
    return 0


def prepare_out(args):
    """The output directory of ``args`` (--out, or its default), created and checked writable; else UsageError."""
    path = args.out if args.out is not None else Path("figures/quick" if args.quick else "figures")
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise UsageError(f"cannot write to --out directory {path}: {exc.strerror or exc}") from None
    return path


def load_mnist(args, n_train, n_test, dtype=None, subset="random"):
    """``npnet.data.load_mnist`` for an experiment: --data and --seed from ``args``; bad sources or sizes
    (e.g. an IDX directory with too few images, a bad $NPNET_DATA) become a UsageError. ``subset="first"`` is
    the studies' fixed, unshuffled carve (see ``npnet.data.load_mnist``)."""
    kwargs = {} if dtype is None else {"dtype": dtype}
    try:
        return npdata.load_mnist(n_train, n_test, seed=args.seed, source=args.data, subset=subset, **kwargs)
    except npdata.DataError:
        raise
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def rng_for(seed, part):
    """An independent Generator for each part of an experiment, all from --seed: parts never shift each other's
    draws, so adding or changing one leaves the others' numbers as they were."""
    return np.random.default_rng([seed, part])


#: The four weight scales the depth studies compare: label → (npnet init spec, Var(w) as a function of
#: (fan_in, fan_out)). Too small, too large, and the two that keep the signal's scale (Glorot & Bengio 2010;
#: He et al. 2015).
DEPTH_INITS = {
    "N(0, 0.01²)": (("normal", {"std": 0.01}), lambda fi, fo: 1e-4),
    "N(0, 1)": (("normal", {"std": 1.0}), lambda fi, fo: 1.0),
    "Xavier": ("xavier_normal", lambda fi, fo: 2.0 / (fi + fo)),
    "He": ("he_normal", lambda fi, fo: 2.0 / fi),
}


def print_checks(checks):
    """One line per claim an experiment checks against its own runs: ``name: confirmed — claim``."""
    for name, check in checks.items():
        print(f"{name}: {'confirmed' if check['confirmed'] else 'NOT confirmed'} — {check['claim']}")


class Progress:
    """Progress lines on stderr with the elapsed time: ``[  3.2 s] message``."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, message):
        print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=self.stream, flush=True)


BLAS_THREADS_PER_RUN = 1  # every parallel_map task, at any --jobs: float32 BLAS results depend on the thread count


def one_blas_thread():
    """Context: BLAS limited to one thread (``threadpoolctl``, installed with scikit-learn). Used by every
    ``parallel_map`` task, and around work on small matrices, where two threads on two shared cores wait for each
    other more than they multiply (measured: 128×128 products 50× slower)."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=BLAS_THREADS_PER_RUN)


def _one_blas_thread(fn, task):
    with one_blas_thread():
        return fn(task)


def parallel_map(fn, tasks, jobs, on_result=None):
    """``[fn(t) for t in tasks]``, in order, in ``jobs`` joblib worker processes.

    ``on_result(i, result)``, if given, is called in the parent as each result arrives (in task order), e.g. to
    print a progress line per run.

    Each task runs with BLAS limited to one thread, whatever ``jobs`` is, so ``--jobs 1`` and ``--jobs N`` give
    bitwise-identical results (float32 GEMM results change with the BLAS thread count). ``fn`` must be a
    module-level function (it is pickled). joblib picks the backend: wrap the call, or the experiment's
    ``main``, in ``joblib.parallel_config(backend="dask")`` (with a ``dask.distributed.Client`` open) to send
    the tasks to a Dask cluster; npnet itself does not depend on dask.
    """
    from joblib import Parallel, delayed
    tasks = list(tasks)
    if jobs == 1:
        results = (_one_blas_thread(fn, t) for t in tasks)
    else:
        results = Parallel(n_jobs=min(jobs, len(tasks)) or 1, return_as="generator")(
            delayed(_one_blas_thread)(fn, t) for t in tasks)
    out = []
    for i, result in enumerate(results):
        if on_result is not None:
            on_result(i, result)
        out.append(result)
    return out


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(path, lambda fh: json.dump(obj, fh, indent=1, allow_nan=False), "w")


def save_figure(fig, path):
    """Save a matplotlib figure as PNG, atomically, and close it."""
    try:
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def format_table(headers, rows):
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
