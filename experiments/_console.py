"""What a run prints: progress lines on stderr, and tables and check lines on stdout."""
import sys
import time

from . import check_interrupt


class Progress:
    """Progress lines on stderr with the elapsed time: ``[  3.2 s] message``."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, message):
        check_interrupt()   # progress lines are frequent: a swallowed Ctrl-C stops the run at the next one
        print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=self.stream, flush=True)


def print_checks(checks):
    """One line per claim an experiment checks against its own runs: ``name: confirmed — claim``."""
    for name, check in checks.items():
        print(f"{name}: {'confirmed' if check['confirmed'] else 'NOT confirmed'} — {check['claim']}")


def format_table(headers, rows):
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
