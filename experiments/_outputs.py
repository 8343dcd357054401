"""Where a run's results go: figures and JSON written atomically, as one set per run.

Under ``experiments._cli.run`` a run's outputs are one set: ``write_json`` and ``save_figure`` write into a hidden
staging directory inside --out (opened by ``stage``), and only when ``main`` has returned does ``commit`` move
every file into place (a rename each). An interrupted or failed run leaves --out as it was: the older outputs
intact, no temporary files. Hidden paths inside --out (``.name``, e.g. a resumable cache ``.cache/…``) are working
state, not outputs: written in place at once, so that they survive an interrupted run. Called directly
(``main(argv)``, as the tests do), the writers write each file atomically in place.
"""
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # experiments only write files; never need a screen
import matplotlib.pyplot as plt  # noqa: E402,F401  (the experiments draw with outputs.plt)

from npnet._io import atomic_write  # noqa: E402

from . import INTERRUPT, check_interrupt  # noqa: E402
from ._parallel import BLAS_THREADS_PER_RUN  # noqa: E402


class OutputError(Exception):
    """The outputs could not be written (full disk, --out removed, a directory in the way): one line, exit 1."""


class _Stage:
    """The run's output set: ``requested`` by ``run``; ``dirs`` maps each output directory that ``start`` prepared
    (absolute) to its staging directory inside it."""

    requested = False
    dirs = {}


_STAGE = _Stage()


def begin_set():
    """Start a run's output set; returns the enclosing set (a run inside a run has its own), for ``end_set``."""
    outer = (_STAGE.requested, _STAGE.dirs)
    _STAGE.requested, _STAGE.dirs = True, {}
    return outer


def in_set():
    """Whether a run's output set is open (``run`` is running)."""
    return _STAGE.requested


def end_set(outer):
    """Drop what is left staged (nothing after ``commit``) and resume the enclosing set."""
    discard()
    _STAGE.requested, _STAGE.dirs = outer


def stage(out):
    """Open the staging directory of output directory ``out`` inside it, if a set is open and it has none yet."""
    if _STAGE.requested and out.absolute() not in _STAGE.dirs:
        # the process id in the name: a later run removes the directory if this process is killed (remove_stale)
        _STAGE.dirs[out.absolute()] = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=out))


def staged_dirs():
    """The output directories of the open set."""
    return list(_STAGE.dirs)


def commit():
    """Move every staged file into place (all checked first, so that nothing is half-replaced), then drop the stage."""
    moves = []
    for out, staging in _STAGE.dirs.items():
        if not staging.is_dir():
            raise OutputError(f"--out directory {out} was removed during the run; nothing was written")
        moves += [(path, out / path.relative_to(staging)) for path in sorted(staging.rglob("*")) if path.is_file()]
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


def discard():
    for staging in _STAGE.dirs.values():
        shutil.rmtree(staging, ignore_errors=True)
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
    check_interrupt()
    path = Path(path)
    _check_target(path)
    target = path
    for out, staging in _STAGE.dirs.items():
        try:
            relative = path.absolute().relative_to(out)
        except ValueError:   # not under this --out
            continue
        if any(part.startswith(".") for part in relative.parts):
            break            # hidden: working state such as a resumable cache, kept even if the run stops
        target = staging / relative
        if not staging.is_dir():
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
            "numpy": np.__version__, **git_provenance()}


#: outputs a run writes into the checkout itself; their changes do not make the code "dirty"
_OUTPUT_PATHS = (":(exclude)figures", ":(exclude)docs/RESULTS.md")


def git_provenance(root=None):
    """The commit the code was run at: {"git_commit": `git rev-parse HEAD` or "unknown", "git_dirty": whether
    tracked files differ from it (outputs under figures/ and docs/RESULTS.md excluded), or "unknown"}.
    "unknown" when git or the checkout is absent (an installed copy, an unpacked archive)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return {"git_commit": "unknown", "git_dirty": "unknown"}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *_OUTPUT_PATHS],
                                cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else "unknown"
    return {"git_commit": head.stdout.strip(), "git_dirty": dirty}


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
