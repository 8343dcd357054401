"""The figures are findable and named as the docs say: docs/FIGURES.md shows every PNG in figures/, every figure a
doc or the ledger's catalog names exists, and every name is plain lower_snake_case. Plus the house style of
experiments/_plotting.py: published stars, theory lines and legends look the same wherever they are drawn."""
import re
import tomllib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import _plotting as plotting  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
GALLERY = ROOT / "docs" / "FIGURES.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NAMED = re.compile(r"figures/([\w.-]+\.png)")      # a path to one figure (globs like phase_*.png are not names)


def committed():
    return sorted(p.name for p in FIGURES.glob("*.png"))


def gallery_images():
    return re.findall(r'<img src="\.\./figures/([^"]+)"', GALLERY.read_text(encoding="utf-8"))


def test_gallery_shows_every_committed_figure_once():
    shown = gallery_images()
    assert sorted(set(shown)) == sorted(shown), "a figure appears twice in docs/FIGURES.md"
    missing = set(committed()) - set(shown)
    assert not missing, f"figures/ holds PNGs docs/FIGURES.md does not show: {sorted(missing)}"


def test_gallery_rows_have_a_caption_and_a_command():
    text = GALLERY.read_text(encoding="utf-8")
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        assert re.search(r"`python -m experiments\.\w+`", section.splitlines()[0]), section.splitlines()[0]
        for row in (r for r in section.splitlines() if "<img" in r):
            caption = row.rsplit("|", 2)[-2].strip()
            assert len(caption.split()) >= 8, row


def test_every_figure_the_docs_name_exists():
    missing = [(doc.name, name) for doc in DOCS for name in NAMED.findall(doc.read_text(encoding="utf-8"))
               if not (FIGURES / name).exists()]
    assert not missing, missing


def test_every_figure_the_catalog_lists_exists_and_is_in_the_gallery():
    catalog = tomllib.loads((ROOT / "experiments" / "claims.toml").read_text(encoding="utf-8"))["experiments"]
    listed = [f for entry in catalog.values() for f in entry.get("figures", [])]
    assert listed
    assert not [f for f in listed if not (FIGURES / f).exists()]
    assert not set(listed) - set(gallery_images())
    assert not set(committed()) - set(listed), "figures/ holds PNGs the ledger's catalog does not list"


def test_figure_names_are_plain():
    bad = [n for n in committed() if not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*\.png", n)]
    assert not bad, bad


# ---------------------------------------------------------------- the house style


def test_published_and_theory_look_the_same_everywhere():
    fig, (a, b) = plt.subplots(1, 2)
    p1 = plotting.published(a, [1, 2], [0.1, 0.2], "init-bench", color="C0")
    p2 = plotting.published(b, 3, 0.5, "lecture")
    for attr in ("get_marker", "get_markeredgecolor", "get_markersize", "get_linestyle"):
        assert getattr(p1, attr)() == getattr(p2, attr)()
    assert p1.get_label() == "published, init-bench" and p2.get_marker() == "*"
    t1 = plotting.theory(a, [1, 2], [1, 1])
    t2 = plotting.theory(a, [1, 2], [2, 2])            # a second curve of the same theory: one legend entry
    a.plot([1, 2], [1, 1], label="data")
    labels = a.get_legend_handles_labels()[1]
    assert labels.count("mean-field theory") == 1
    assert t1.get_zorder() > a.get_lines()[-1].get_zorder()       # theory on top of the data it agrees with
    assert t1.get_linestyle() == t2.get_linestyle() and t1.get_color() == "black"
    plt.close(fig)


def test_ours_states_the_seed_count_and_draws_the_band():
    fig, ax = plt.subplots()
    x = np.arange(5)
    h = plotting.ours(ax, x, x * 1.0, x - 1.0, x + 1.0, label="He", seeds=5)
    assert h.get_label() == "He (mean of 5 seeds, min–max band)"
    assert len(ax.collections) == 1
    plt.close(fig)


def test_legend_outside_leaves_the_data_area_free():
    fig, ax = plt.subplots()
    for i in range(6):
        ax.plot([0, 1], [i, i], label=f"series {i}")
    for where in ("right", "below"):
        legend = plotting.legend_outside(ax, where)
        fig.canvas.draw()
        box, data = legend.get_window_extent(), ax.get_window_extent()
        assert not box.overlaps(data), where
    plt.close(fig)


def test_log_axis_says_so():
    fig, ax = plt.subplots()
    plotting.log_axis(ax, "y", "E[z²]")
    plotting.log_axis(ax, "x", "width (log scale)")
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "E[z²] (log scale)"
    assert ax.get_xlabel() == "width (log scale)"
    plt.close(fig)
