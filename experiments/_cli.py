"""The command line every experiment shares: its options and their types, the run's inputs taken from them (MNIST
from --data, random streams from --seed), and ``run``, which makes ``main`` a program.

An experiment module defines ``main(argv=None)``, which begins with ``args, out, progress = cli.start(cli.parser(…),
argv)``, and ends with ``raise SystemExit(cli.run(main, prog))``, so that bad input becomes one line on stderr and
exit code 2, a failure to write the outputs (full disk, --out removed, a directory in the way) one line and exit
code 1, and Ctrl-C one line and exit code 130 — never a traceback. The outputs of a run are written as one set
when ``main`` returns (see ``experiments._outputs``).
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from npnet import _validate
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
    """Parse ``argv``, resolve --epochs and --seeds (if the parser has them) and prepare --out: (args, out
    directory, Progress).

    Under ``run``, also opens the run's staging directory inside --out (see ``experiments._outputs``). With --dask
    (or ``$NPNET_DASK_SCHEDULER``) it connects to the scheduler, after refusing a relative path among
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
    _outputs.stage(out)
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
    try:
        main(argv)
        check_interrupt()     # a Ctrl-C that Python swallowed (in a weakref callback, say) still counts
        _outputs.commit()
    except UsageError as exc:
        return _fail(f"{prog}: error: {exc}", EXIT_USAGE)
    except npdata.DataError as exc:
        return _fail(f"{prog}: data error: {exc}", EXIT_USAGE)
    except _outputs.OutputError as exc:
        return _fail(f"{prog}: error: {exc}", EXIT_OUTPUT)
    except KeyboardInterrupt:
        kept = "".join(f"; {out} keeps its previous files" for out in _outputs.staged_dirs())
        return _fail(f"{prog}: interrupted; no outputs were written{kept}", EXIT_INTERRUPTED)
    finally:
        _outputs.end_set(outer_set)
        if not nested:
            _cluster.close()
        sys.unraisablehook = unraisable_hook
        INTERRUPT.phase = outer_phase if nested else "done"
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
