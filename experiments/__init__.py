"""The experiments: ``python -m experiments.<name>`` (see README.md).

Importing this package is the first thing ``python -m experiments.<name>`` does, before NumPy or matplotlib load,
so Ctrl-C is handled here, once, for every experiment: during start-up it ends the program with one line and exit
code 130 (nothing has been written yet); once ``experiments._cli.run`` runs the experiment, it raises
KeyboardInterrupt there, and ``run`` discards the run's unfinished outputs. A second Ctrl-C while that happens is
ignored, and one that lands where Python swallows exceptions (a weakref callback, ``__del__``) is still seen:
``run`` checks ``INTERRUPT.seen``.
"""
import os
import signal
import sys


class _Interrupt:
    """Where the program is: "start-up" (before ``run``), "running", "committing" (outputs being moved into
    place: Ctrl-C waits until they all are) or "done"."""

    prog = "experiments"
    phase = "start-up"
    seen = False
    handler_installed = False


INTERRUPT = _Interrupt()


def on_sigint(signum, frame):
    """SIGINT handler: see the module docstring."""
    if INTERRUPT.seen or INTERRUPT.phase in ("committing", "done"):
        INTERRUPT.seen = True
        return
    INTERRUPT.seen = True
    if INTERRUPT.phase == "start-up":
        os.write(2, f"{INTERRUPT.prog}: interrupted during start-up; nothing was written\n".encode())
        os._exit(130)
    raise KeyboardInterrupt


def check_interrupt():
    """Raise KeyboardInterrupt for a Ctrl-C that Python swallowed (in a weakref callback, say) while running."""
    if INTERRUPT.seen and INTERRUPT.phase == "running":
        raise KeyboardInterrupt


def install_sigint_handler(prog):
    """Install ``on_sigint`` (main thread only; signal handlers cannot be set elsewhere).

    Returns a function that puts the previous handler back, or None if nothing was installed.
    """
    INTERRUPT.prog = prog
    if INTERRUPT.handler_installed:
        return None
    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:   # not the main thread
        return None
    INTERRUPT.handler_installed = True

    def restore():
        signal.signal(signal.SIGINT, previous)
        INTERRUPT.handler_installed = False
    return restore


if sys.argv[:1] == ["-m"]:   # being started as ``python -m experiments.<name>`` (sys.argv[0] is "-m" until then)
    _argv = getattr(sys, "orig_argv", [])
    install_sigint_handler(_argv[_argv.index("-m") + 1] if "-m" in _argv[:-1] else "experiments")
