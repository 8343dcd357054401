"""The command line every experiment shares: its options and their types, the run's inputs taken from them (MNIST
from --data, random streams from --seed), and ``run``, which makes ``main`` a program.

An experiment module defines ``main(argv=None)``, which begins with ``args, out, progress = cli.start(cli.parser(…),
argv)``, and ends with ``raise SystemExit(cli.run(main, prog))``, so that bad input becomes one line on stderr and
exit code 2, a failure to write the outputs (full disk, --out removed, a directory in the way) one line and exit
code 1, and Ctrl-C one line and exit code 130 — never a traceback. The outputs of a run are written as one set
when ``main`` returns (see ``experiments._outputs``).
"""
import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from npnet import _io, _validate
from npnet import data as npdata

from . import INTERRUPT, _cluster, _outputs, check_interrupt, install_sigint_handler
from ._console import Progress

EXIT_USAGE = 2
EXIT_OUTPUT = 1
EXIT_INTERRUPTED = 130


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


#: Upper bounds of the count options, stated in each one's --help: a value beyond is a typo (a run that could not
#: finish in a year, or lists that would fill the memory before the first step), refused in one line.
EPOCHS_MAX = 10_000
SEEDS_MAX = 1_000
JOBS_MAX = 1_024


def count_arg(maximum):
    """argparse type: an integer in [1, ``maximum``]; the option's help should end with ``at_most(maximum)``."""
    def count(text):
        value = positive_int_arg(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected an integer >= 1 and at most {maximum:,}, got {text}")
        return value
    count.__name__ = "count"      # argparse names the type in some messages
    return count


def at_most(maximum):
    """The bound as --help states it."""
    return f"at most {maximum:,}"


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


def dir_arg(option, kind="directory"):
    """argparse type for a path option such as --out: a non-empty path, ``~`` expanded (as the shell would not
    inside quotes); whether it can be written is checked later, before anything is written."""
    def parse(text):
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{option} must be a {kind} path, got an empty string")
        return Path(text).expanduser()
    return parse


out_arg = dir_arg("--out")


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
    processes for :func:`parallel_map`, default all cores) and --dask (a Dask scheduler to send the tasks to
    instead; ``shared`` names the options whose paths the workers write, for its help); with ``seeds`` it has --seeds (runs per setting,
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
        p.add_argument("--epochs", type=count_arg(EPOCHS_MAX), default=None,
                       help=f"training epochs per run (default: {epochs}{quick}; {at_most(EPOCHS_MAX)})")
        p.set_defaults(default_epochs=epochs, quick_epochs=quick_epochs or epochs)
    if jobs:
        p.add_argument("--jobs", type=count_arg(JOBS_MAX), default=min(os.cpu_count() or 1, JOBS_MAX),
                       help=f"worker processes (joblib; {at_most(JOBS_MAX)}); results are identical to --jobs 1")
        _cluster.add_argument(p, shared)
    if seeds is not None:
        quick = f" ({quick_seeds} with --quick)" if quick_seeds else ""
        p.add_argument("--seeds", type=count_arg(SEEDS_MAX), default=None,
                       help=f"seeds per setting: --seed, --seed+1, … (default: {seeds}{quick}; {at_most(SEEDS_MAX)})")
        p.set_defaults(default_seeds=seeds, quick_seeds=quick_seeds or seeds)
    return p


def resolve_epochs(args):
    """--epochs if given, else the experiment's default for a full or a --quick run."""
    if args.epochs is not None:
        return args.epochs
    return args.quick_epochs if args.quick else args.default_epochs


def start(parser, argv, check=None, shared=None):
    """Parse ``argv``, resolve --epochs and --seeds (if the parser has them) and prepare --out: (args, out
    directory, Progress).

    Everything is checked before anything is written or printed: the options, $NPNET_DATA (when --data is not
    given), --dask (or ``$NPNET_DASK_SCHEDULER``: dask installed, and no relative path among ``shared(args, out)``,
    {option: path the workers write}, when the scheduler is on another machine), and ``check(args)``, the
    experiment's own checks (it may create a directory with ``make_dir``). Then --out is created, the leftovers of
    killed runs are removed from it (``npnet._io.remove_stale``), the client to the Dask scheduler opened (without
    --dask: any client an earlier run in this process left open is closed), and, under ``run``, the run's staging
    directory is opened inside it (see ``experiments._outputs``).
    """
    args = parser.parse_args(argv)
    if hasattr(args, "default_epochs"):
        args.epochs = resolve_epochs(args)
    if hasattr(args, "default_seeds") and args.seeds is None:
        args.seeds = args.quick_seeds if args.quick else args.default_seeds
    if getattr(args, "seeds", None) and args.seed + args.seeds - 1 > SEED_MAX:
        raise UsageError(f"--seed + --seeds - 1 must be at most {SEED_MAX} (the largest seed), got "
                         f"{args.seed} + {args.seeds} - 1")
    if hasattr(args, "data") and args.data is None:
        check_data_environment()
    check_cluster(args, shared)
    if check is not None:
        check(args)
    out = prepare_out(args)
    connect_cluster(args)
    _outputs.stage(out)
    return args, out, Progress()


def check_data_environment():
    """UsageError if $NPNET_DATA is set to something that is not a data source (checked before any output)."""
    env = os.environ.get(npdata.SOURCE_ENV, "").strip()
    if env:
        try:
            npdata.validate_source(env)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"${npdata.SOURCE_ENV}: {exc}") from None


def check_cluster(args, shared=None):
    """Resolve ``args.dask`` (--dask, else ``$NPNET_DASK_SCHEDULER``); with an address, check that dask is installed
    and that no path in ``shared(args, out)`` is relative when the scheduler is remote. Errors → UsageError."""
    if not hasattr(args, "dask"):
        return
    try:
        args.dask = _cluster.address(args.dask)
        if args.dask is not None:
            _cluster.require_dask()
            _cluster.check_shared_paths(args.dask, shared(args, out_path(args)) if shared else {})
    except _cluster.ClusterError as exc:
        raise UsageError(str(exc)) from None


def connect_cluster(args):
    """Open the client to ``args.dask`` (checked by ``check_cluster``), or close any open one; errors → UsageError."""
    if getattr(args, "dask", None) is None:
        _cluster.close()
        return
    try:
        _cluster.connect(args.dask)
    except _cluster.ClusterError as exc:
        raise UsageError(str(exc)) from None


def out_path(args):
    """--out, or its default (figures/, or figures/quick/ with --quick)."""
    return args.out if args.out is not None else Path("figures/quick" if args.quick else "figures")


def prepare_out(args):
    """The output directory of ``args`` (--out, or its default), created and checked writable; else UsageError.
    Temporary files and staging directories that killed runs left in it are removed."""
    path = out_path(args)
    make_dir(path, "--out")
    _io.remove_stale(path)
    return path


class _Run:
    """The directories the current ``run`` created (``make_dir``): removed again, if still empty, when it fails."""

    created = []


def make_dir(path, option):
    """Create the directory ``path`` that ``option`` names (parents too) and check that it is writable, else
    UsageError. The directories created are recorded: a run that fails leaves none of them behind empty."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise UsageError(f"{option} {path} exists and is not a directory")
        _Run.created += [p for p in (path, *path.parents) if not p.exists()]   # before: mkdir may stop half way
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:   # also a path part longer than the file system allows (ENAMETOOLONG)
        raise UsageError(f"cannot write to {option} directory {path}: {exc.strerror or exc}") from None
    return path


def _remove_created():
    for path in sorted(_Run.created, key=lambda p: len(p.parts), reverse=True):   # deepest first
        with contextlib.suppress(OSError):
            path.rmdir()     # only an empty directory: outputs, caches and the user's files stay


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


def run(main, prog, argv=None):
    """Call ``main(argv)`` as a program: bad input → one stderr line and exit code 2, an output failure → one line
    and exit code 1, Ctrl-C → one line and exit code 130; the outputs are written as one set at the end (see
    ``experiments._outputs``). Returns the exit code."""
    nested, outer_phase = _outputs.in_set(), INTERRUPT.phase   # a run inside a run (one experiment driving
    restore_handler = install_sigint_handler(prog)              # others) has its own set; the outer one resumes
    if not nested:
        INTERRUPT.seen = False
    INTERRUPT.phase = "running"
    unraisable_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_about_interrupts(unraisable_hook)
    outer_set = _outputs.begin_set()
    outer_created, _Run.created = _Run.created, []
    code = None
    try:
        main(argv)
        check_interrupt()     # a Ctrl-C that Python swallowed (in a weakref callback, say) still counts
        _outputs.commit()
        code = 0
    except UsageError as exc:
        code = _fail(f"{prog}: error: {exc}", EXIT_USAGE)
    except npdata.DataError as exc:
        code = _fail(f"{prog}: data error: {exc}", EXIT_USAGE)
    except _outputs.OutputError as exc:
        code = _fail(f"{prog}: error: {exc}", EXIT_OUTPUT)
    except KeyboardInterrupt:
        kept = "".join(f"; {out} keeps its previous files" for out in _outputs.staged_dirs())
        code = _fail(f"{prog}: interrupted; no outputs were written{kept}", EXIT_INTERRUPTED)
    finally:
        _outputs.end_set(outer_set)
        if not nested:
            _cluster.close()
        if code != 0:
            _remove_created()
        _Run.created = outer_created
        sys.unraisablehook = unraisable_hook
        INTERRUPT.phase = outer_phase if nested else "done"
        if restore_handler is not None:
            restore_handler()
    if code == 0 and INTERRUPT.seen:
        print(f"{prog}: interrupted after all outputs were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


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


REPLOT_MAX_BYTES = 256 << 20   # an experiment's JSON is a few MB


def replot(out, name, draw, progress):
    """``--replot``: redraw an experiment's figures with ``draw(result, out)`` from the ``<name>.json`` already in
    ``out``, training nothing (for experiments whose JSON holds everything their figures show)."""
    path = out / f"{name}.json"
    try:
        with _io.open_regular(path, REPLOT_MAX_BYTES) as f:   # a directory, FIFO or huge file: one line, no hang
            result = json.loads(f.read().decode("utf-8"))
        draw(result, out)
    except FileNotFoundError:
        raise UsageError(f"--replot needs {path}: run the experiment first") from None
    except OSError as exc:
        raise UsageError(f"--replot cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise UsageError(f"--replot: {path} is not this experiment's output ({type(exc).__name__}: {exc})") from None
    progress(f"redrew the figures of {path}")
