"""What every experiment shares: the command line, progress lines, atomic output, and plotting setup.

An experiment module defines ``main(argv=None)`` and ends with ``raise SystemExit(common.run(main, prog))``, so
that bad input becomes one line on stderr and exit code 2, a failure to write the outputs (full disk, --out removed,
a directory in the way) one line and exit code 1, and Ctrl-C one line and exit code 130 — never a traceback.

Under ``run`` a run's outputs are one set: ``write_json`` and ``save_figure`` write into a hidden staging directory
inside --out, and only when ``main`` has returned does ``run`` move every file into place (a rename each). An
interrupted or failed run leaves --out as it was: the older outputs intact, no temporary files. Hidden paths inside
--out (``.name``, e.g. a resumable cache ``.cache/…``) are working state, not outputs: written in place at once, so
that they survive an interrupted run. Called directly
(``main(argv)``, as the tests do), the writers write each file atomically in place.
"""
import argparse
import contextlib
import json
import os
import shutil
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

from . import INTERRUPT, install_sigint_handler  # noqa: E402
from . import _cluster  # noqa: E402

EXIT_USAGE = 2
EXIT_OUTPUT = 1
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad input from the user: reported as one line and exit code 2."""


class OutputError(Exception):
    """The outputs could not be written (full disk, --out removed, a directory in the way): one line, exit 1."""


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


def out_arg(text):
    """argparse type for --out: a non-empty path, ``~`` expanded (as the shell would not inside quotes)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("--out must be a directory path, got an empty string")
    return Path(text).expanduser()


def _data_source(text):
    try:
        return npdata.validate_source(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser(prog, description, *, epochs=None, quick_epochs=None, data=True, dtype=True, jobs=False,
           seeds=None, quick_seeds=None, dtype_help="floating-point type", shared=None):
    """A parser with the options every experiment has: --seed, --quick, --out (and --data, --dtype unless off).

    With ``epochs`` it also has --epochs, whose default is ``epochs`` (``quick_epochs`` under --quick); read it
    with ``resolve_epochs(args)``. ``--out`` defaults to figures/, and to figures/quick/ under --quick so that a
    quick run never overwrites the committed figures of the default run. With ``jobs`` it has --jobs (worker
    processes for :func:`parallel_map`, default all cores) and --dask (a Dask scheduler to send them to instead;
    ``shared`` names the options whose paths the workers write, for its help); with ``seeds`` it has --seeds (runs per setting,
    default ``seeds``, ``quick_seeds`` under --quick), resolved by :func:`start` like --epochs. ``dtype_help`` says
    what --dtype applies to, where that is not everything.
    """
    p = Parser(prog=prog, description=description, formatter_class=_HelpFormatter)
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the np.random.Generator behind every random draw")
    p.add_argument("--quick", action="store_true", help="a small run in seconds (few samples and epochs), "
                   "writing the same files (to figures/quick/ unless --out is given); used by the tests")
    p.add_argument("--out", type=out_arg, default=None, help="directory for the PNG figures and JSON "
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
        _cluster.add_argument(p, shared)
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


def start(parser, argv, shared=None):
    """Parse ``argv``, resolve --epochs (if the parser has it) and prepare --out: (args, out directory, Progress).

    Under ``run``, also opens the run's staging directory inside --out (see the module docstring). With --dask (or
    ``$NPNET_DASK_SCHEDULER``) it connects to the scheduler, after refusing a relative path among
    ``shared(args, out)`` ({option: path the workers write}) when the scheduler is on another machine; without
    --dask it closes any client an earlier run in this process left open.
    """
    args = parser.parse_args(argv)
    if hasattr(args, "default_epochs"):
        args.epochs = resolve_epochs(args)
    if hasattr(args, "default_seeds") and args.seeds is None:
        args.seeds = args.quick_seeds if args.quick else args.default_seeds
    out = prepare_out(args)
    connect_cluster(args, out, shared)
    if _STAGE.requested and out.absolute() not in _STAGE.dirs:
        _STAGE.dirs[out.absolute()] = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    return args, out, Progress()


def connect_cluster(args, out, shared=None):
    """Resolve ``args.dask`` (--dask, else ``$NPNET_DASK_SCHEDULER``) and open the client; errors → UsageError."""
    if not hasattr(args, "dask"):
        return
    try:
        args.dask = _cluster.address(args.dask)
        if args.dask is None:
            _cluster.close()
            return
        _cluster.require_dask()
        _cluster.check_shared_paths(args.dask, shared(args, out) if shared else {})
        _cluster.connect(args.dask)
    except _cluster.ClusterError as exc:
        raise UsageError(str(exc)) from None


class _Stage:
    """The run's output set: ``requested`` by ``run``; ``dirs`` maps each output directory that ``start`` prepared
    (absolute) to its staging directory inside it."""

    requested = False
    dirs = {}


_STAGE = _Stage()


def run(main, prog, argv=None):
    """Call ``main(argv)`` as a program: bad input → one stderr line and exit code 2, an output failure → one line
    and exit code 1, Ctrl-C → one line and exit code 130; the outputs are written as one set at the end (see the
    module docstring). Returns the exit code."""
    outer = (_STAGE.requested, _STAGE.dirs, INTERRUPT.phase)   # a run inside a run (one experiment driving
    restore_handler = install_sigint_handler(prog)              # others) has its own set; the outer one resumes
    if not outer[0]:
        INTERRUPT.seen = False
    INTERRUPT.phase = "running"
    unraisable_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_about_interrupts(unraisable_hook)
    _STAGE.requested, _STAGE.dirs = True, {}
    try:
        main(argv)
        _check_interrupt()     # a Ctrl-C that Python swallowed (in a weakref callback, say) still counts
        _commit()
    except UsageError as exc:
        return _fail(f"{prog}: error: {exc}", EXIT_USAGE)
    except npdata.DataError as exc:
        return _fail(f"{prog}: data error: {exc}", EXIT_USAGE)
    except OutputError as exc:
        return _fail(f"{prog}: error: {exc}", EXIT_OUTPUT)
    except KeyboardInterrupt:
        kept = "".join(f"; {out} keeps its previous files" for out in _STAGE.dirs)
        return _fail(f"{prog}: interrupted; no outputs were written{kept}", EXIT_INTERRUPTED)
    finally:
        _discard()
        if not outer[0]:
            _cluster.close()
        _STAGE.requested, _STAGE.dirs = outer[0], outer[1]
        sys.unraisablehook = unraisable_hook
        INTERRUPT.phase = outer[2] if outer[0] else "done"
        if restore_handler is not None:
            restore_handler()
    if INTERRUPT.seen:
        print(f"{prog}: interrupted after all outputs were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _quiet_about_interrupts(hook):
    """An unraisable-exception hook that leaves out KeyboardInterrupt (Python would print "Exception ignored …" and a
    traceback for a Ctrl-C landing in a weakref callback or ``__del__``; ``run`` reports it instead)."""
    def quiet(unraisable):
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)
    return quiet


def _fail(line, code):
    print(line, file=sys.stderr)
    return code


def _check_interrupt():
    if INTERRUPT.seen and INTERRUPT.phase == "running":
        raise KeyboardInterrupt


def _commit():
    """Move every staged file into place (all checked first, so that nothing is half-replaced), then drop the stage."""
    moves = []
    for out, stage in _STAGE.dirs.items():
        if not stage.is_dir():
            raise OutputError(f"--out directory {out} was removed during the run; nothing was written")
        moves += [(path, out / path.relative_to(stage)) for path in sorted(stage.rglob("*")) if path.is_file()]
    for _, target in moves:
        _check_target(target)
    INTERRUPT.phase = "committing"     # Ctrl-C from here on waits until every file is in place
    try:
        for path, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    except OSError as exc:
        raise OutputError(f"cannot move the outputs into place: {_os_message(exc)}") from None
    finally:
        INTERRUPT.phase = "running"


def _discard():
    for stage in _STAGE.dirs.values():
        shutil.rmtree(stage, ignore_errors=True)
    _STAGE.dirs = {}


def _check_target(path):
    if path.is_dir():
        raise OutputError(f"cannot write {path}: a directory of that name is in the way")


def _os_message(exc):
    return exc.strerror or str(exc)


@contextlib.contextmanager
def _output(path):
    """Where to write the output ``path`` (the staging copy under ``run``), turning OS failures into OutputError.

    A failure inside a library (matplotlib wraps some OSErrors in its own exceptions) counts if an OSError is in
    its chain of causes.
    """
    _check_interrupt()
    path = Path(path)
    _check_target(path)
    target = path
    for out, stage in _STAGE.dirs.items():
        try:
            relative = path.absolute().relative_to(out)
        except ValueError:   # not under this --out
            continue
        if any(part.startswith(".") for part in relative.parts):
            break            # hidden: working state such as a resumable cache, kept even if the run stops
        target = stage / relative
        if not stage.is_dir():
            raise OutputError(f"--out directory {out} was removed during the run; nothing was written")
        break
    try:
        yield target
    except Exception as exc:
        cause = exc
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise OutputError(f"cannot write {path}: {_os_message(cause)}") from None


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
        _check_interrupt()   # progress lines are frequent: a swallowed Ctrl-C stops the run at the next one
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
    """``[fn(t) for t in tasks]``, in order, in ``jobs`` joblib worker processes, or on the Dask cluster that
    --dask connected to (``jobs`` is then unused: the cluster's worker threads set the parallelism).

    ``on_result(i, result)``, if given, is called in the parent as each result arrives (in task order), e.g. to
    print a progress line per run.

    Each task runs with BLAS limited to one thread, whatever ``jobs`` is, so ``--jobs 1`` and ``--jobs N`` give
    bitwise-identical results (float32 GEMM results change with the BLAS thread count). ``fn`` must be a
    module-level function (it is pickled). Without --dask, joblib's configuration picks the backend, so
    ``joblib.parallel_config(backend="dask")`` around ``main`` works too; npnet itself does not depend on dask.
    """
    from joblib import Parallel, delayed
    tasks = list(tasks)
    on_cluster = _cluster.active() is not None
    out = []
    with _cluster.joblib_config():
        if jobs == 1 and not on_cluster:
            results = (_one_blas_thread(fn, t) for t in tasks)
        else:
            results = Parallel(n_jobs=-1 if on_cluster else min(jobs, len(tasks)) or 1, return_as="generator")(
                delayed(_one_blas_thread)(fn, t) for t in tasks)
        for i, result in enumerate(results):
            if on_result is not None:
                on_result(i, result)
            out.append(result)
    return out


def runtime_info():
    """What a run's bitwise results depend on besides the seed: NumPy's BLAS (library, version) and its thread count
    (float32 GEMM results change with it), and the NumPy version. Recorded in every experiment's JSON by
    ``write_json``. Only NumPy's own BLAS counts (npnet's products go through it); other libraries' (SciPy's, once
    loaded) would make the record depend on what else the process imported."""
    from threadpoolctl import threadpool_info
    blas = sorted((pool for pool in threadpool_info() if pool.get("user_api") == "blas"),
                  key=lambda pool: ("numpy" not in os.path.dirname(pool["filepath"]), pool["filepath"]))
    pool = blas[0] if blas else {}   # NumPy's wheel-bundled BLAS first; else (a system BLAS) a fixed choice
    return {"blas_threads": pool.get("num_threads"), "blas_threads_per_parallel_task": BLAS_THREADS_PER_RUN,
            "blas": f"{pool.get('internal_api', 'unknown')} {pool.get('version', '')}".strip(),
            "numpy": np.__version__}


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically; a dict gets a "runtime" entry (``runtime_info``) unless it has one."""
    if isinstance(obj, dict) and "runtime" not in obj:
        obj = {**obj, "runtime": runtime_info()}
    with _output(path) as target:
        atomic_write(target, lambda fh: json.dump(obj, fh, indent=1, allow_nan=False), "w")


def save_figure(fig, path):
    """Save a matplotlib figure as PNG, atomically, and close it."""
    try:
        with _output(path) as target:
            atomic_write(target, lambda fh: fig.savefig(fh, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def format_table(headers, rows):
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
