"""The house style every experiment's figures share, so that a reader learns it once.

- **Published** values: always a star with a black edge (``published``), its fill the colour of the series of ours it
  is compared with (white when there is none), the study's name in its legend entry. Points that would fall on one
  spot are spread sideways a little (``dodge``) so each stays visible.
- **Theory** (mean field, a formula): always a thin dark dashed line drawn *over* the data (``theory``), so it stays
  visible where it agrees with the measurement; one legend entry per panel.
- **Ours**: a mean line and a band (``ours``); the legend says the seed count and what the band is.
- **Legends** go outside the data area (``legend_outside``, or ``figure_legend`` below all panels).
- Every axis is labelled in words with its unit, and a log axis says "(log scale)" (``log_axis``).

Only drawing conventions live here; saving stays with the output helpers (atomic, staged).
"""
import numpy as np

#: one look for every published value
PUBLISHED_STYLE = dict(linestyle="none", marker="*", markersize=14, markeredgecolor="black", markeredgewidth=1.0,
                       zorder=6)
#: one look for every theory curve: thin, dark, dashed, on top
THEORY_STYLE = dict(color="black", linewidth=1.0, linestyle=(0, (4, 2)), zorder=5)
#: what the band around a mean shows, by default
BAND_ALPHA = 0.2
LEGEND_FONTSIZE = 8


def published(ax, x, y, study, what=None, color="white", **extra):
    """Published value(s) at ``x``/``y`` as the house star, legend "published, <study>[: <what>]" (once per
    panel). ``color`` fills the star: the colour of the series of ours it belongs to."""
    label = f"published, {study}" + (f": {what}" if what else "")
    if label in {h.get_label() for h in ax.get_lines()}:
        label = "_" + label           # the same published series drawn in pieces: one legend entry
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    return ax.plot(x, y, markerfacecolor=color, label=label, **{**PUBLISHED_STYLE, **extra})[0]


def theory(ax, x, y, label="mean-field theory", **extra):
    """A theory curve in the house style; only the first one drawn on ``ax`` with a given label enters the
    legend (one entry per panel however many curves)."""
    if label in {h.get_label() for h in ax.get_lines()}:
        label = "_" + label
    return ax.plot(x, y, label=label, **{**THEORY_STYLE, **extra})[0]


def theory_key(label="mean-field theory"):
    """A legend handle for the theory line style (for a figure-level legend)."""
    from matplotlib.lines import Line2D
    return Line2D([], [], label=label, **THEORY_STYLE)


def published_key(study, what=None, color="white"):
    """A legend handle for the published marker (for a figure-level legend)."""
    from matplotlib.lines import Line2D
    return Line2D([], [], markerfacecolor=color, label=f"published, {study}" + (f": {what}" if what else ""),
                  **PUBLISHED_STYLE)


def ours(ax, x, mean, lo=None, hi=None, *, label, seeds=None, band="min–max", color=None, **line):
    """Our result: a mean line (label "<label> (mean of N seeds, <band> band)") and, given ``lo``/``hi``, the band."""
    if seeds is not None:
        label = f"{label} (mean of {seeds} seed{'s' if seeds != 1 else ''}" + (f", {band} band)" if lo is not None
                                                                                 else ")")
    (handle,) = ax.plot(x, mean, label=label, color=color, **line)
    if lo is not None and hi is not None:
        ax.fill_between(x, lo, hi, color=handle.get_color(), alpha=BAND_ALPHA, linewidth=0)
    return handle


def dodge(x, i, n, width):
    """``x`` shifted for the i-th of n series that share it, spread over ``width`` (in data units): markers that
    would sit on one spot side by side."""
    return np.asarray(x, dtype=float) + (i - (n - 1) / 2) * (width / max(n, 1))


def log_axis(ax, which, label):
    """Log scale on ``which`` ("x" or "y") with the label ending in "(log scale)"."""
    getattr(ax, f"set_{which}scale")("log")
    getattr(ax, f"set_{which}label")(label if label.endswith("(log scale)") else f"{label} (log scale)")


def legend_outside(ax, where="right", **kw):
    """A legend beside the panel (right) or under it (below), never over the data."""
    kw.setdefault("fontsize", LEGEND_FONTSIZE)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)
    # below: clear of the tick labels and the x label whatever the panel's height (the pad is in font sizes)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), borderaxespad=5.0, **kw)


def figure_legend(fig, handles=None, ncol=4, y=0.0, **kw):
    """One legend for the whole figure, centred below the panels (handles: default, every labelled artist once)."""
    if handles is None:
        handles, seen = [], set()
        for ax in fig.axes:
            for h, label in zip(*ax.get_legend_handles_labels()):
                if label not in seen:
                    seen.add(label)
                    handles.append(h)
    kw.setdefault("fontsize", LEGEND_FONTSIZE)
    return fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, y), ncol=ncol, frameon=False, **kw)


def integer_ticks(ax, which="x"):
    """Whole-number ticks (epochs, layers)."""
    from matplotlib.ticker import MaxNLocator
    getattr(ax, f"{which}axis").set_major_locator(MaxNLocator(integer=True))


def label_panel(ax, row, col, rows, *, title=None, ylabel=None, xlabel=None, fontsize=8):
    """Labels of one panel of a grid of small multiples: the column's title on the first row, the row's label on
    the first column, the x label on the last row."""
    if row == 0 and title:
        ax.set_title(title, fontsize=fontsize + 1)
    if col == 0 and ylabel:
        ax.set_ylabel(ylabel, fontsize=fontsize)
    if row == rows - 1 and xlabel:
        ax.set_xlabel(xlabel, fontsize=fontsize)
