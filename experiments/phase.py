"""Which deep nets can train at all: the order-to-chaos phase diagram of trainability, measured and predicted.

Run:  python -m experiments.phase                 (168 cells: 16 min on 2 shared cores; writes figures/)
      python -m experiments.phase --quick         (seconds; the same files in figures/quick/)
      python -m experiments.phase --jobs 1        (one process; results are bitwise identical at any --jobs)

Networks: MLPs 784 → L hidden layers of width 100 → 10, tanh (and a ReLU row), W ~ N(0, σ_w²/fan_in),
b ~ N(0, σ_b²) with σ_b² = 0.05, the output layer drawn the same way. Every cell (σ_w², L) of the grid is trained
on MNIST with one protocol (plain SGD, batch 128, a fixed number of steps, lr = 0.3 / L; see PROTOCOL) and its
test accuracy recorded. A cell counts as *trained* when its test accuracy reaches 0.5 (chance is 0.1).

Mean-field theory (npnet.meanfield, Poole et al. 2016; Schoenholz et al. 2017, "Deep Information Propagation"):
q* the fixed point of the length map, χ₁ = σ_w² E[φ'(√q* z)²], the correlation depth ξ_c = −1/ln χ_c and the
critical line χ₁ = 1 (tanh at σ_b² = 0.05: σ_w² ≈ 1.761; ReLU: σ_w² = 2). The published finding: a network
trains when L ≲ 6ξ_c and fails beyond. The heatmap carries L = 3ξ_c and 6ξ_c; the JSON and the printout count
how many cells agree with "trained iff L ≤ 6ξ_c".

ξ measured directly: 64 pairs of inputs with correlation c₀ = 0.99 (both at length q*) go through a random tanh
net of width 1000. Ordered side: the pairs merge and ξ is the decay length of 1 − c_l, fitted in the linear
regime (:func:`fit_correlation_depth`). Chaotic side: the approach to c* < 1 drowns in the ~1/√width noise of
c_l within 1–2 e-folds, so ξ is read from the rate at which the fluctuations around c* relax, the same slope χ_c
of the correlation map (:func:`relaxation_depth`).

Grid and budget: 12 σ_w² × 10 depths (2 … 100) for tanh and 12 × 4 depths (2, 10, 30, 60) for ReLU, 600 steps
(10 passes). A cell costs ∝ (L + 8)·steps (the 784-wide first layer ≈ 8 hidden ones); at 0.13 ms per layer-step
(float32, one core, quiet) the grid is ~9 core-minutes, ≈ 5 minutes on 2 cores: sized so that it still finishes
within the 30-minute budget on a 2-core machine shared 5× (measured there: 0.68 ms per layer-step).

Cache and resume: each cell's result is written, atomically, to <cache>/<activation>-w<σ_w²>-L<L>-<hash>.json
as soon as it is finished, the hash covering every setting that changes the result (protocol, data, seed, dtype,
code version). A run reads every matching file first and trains only the missing cells, so an interrupted run
(Ctrl-C, a killed job, a lost node) resumes where it stopped and ends with the same phase.json as an
uninterrupted one. Resuming is the default; ``--no-cache`` neither reads nor writes the cache; delete the directory
to start over. ``--cache`` defaults to <out>/.phase-cache/ (git-ignored).

Cluster: the cells run through ``experiments._common.parallel_map`` (joblib, one BLAS thread per cell).
``--dask ADDRESS`` (or ``$NPNET_DASK_SCHEDULER``) sends them to a Dask cluster instead, with the same results; the
workers write the cache, so it must be a directory on a file system they share, given as an absolute path when
the scheduler is on another machine (a relative one, such as the default under a relative --out, is refused then).
"""
import argparse
import functools
import hashlib
import json
import math
import re
import time
from pathlib import Path

import numpy as np

import npnet
from npnet import meanfield

from . import _common as common

SIGMA_B2 = 0.05
WIDTH = 100
BATCH = 128
N_TRAIN, N_TEST = 60 * BATCH, 2_000          # 7,680 training images: 60 full batches per pass, no ragged batch
STEPS = 600                                   # 10 passes over the training images
LR_SCALE = 0.3                                # lr = LR_SCALE / L (see PROTOCOL)
DTYPE = "float32"     # this experiment's default: 1.7× faster than float64 at width 100, which buys the grid;
                      # still bitwise reproducible (one BLAS thread per cell at any --jobs); --dtype float64 works
TRAINED = 0.5                                 # test accuracy that counts as "trained" (chance: 0.1)
CACHE_VERSION = 1                             # bump when a change to the code changes a cell's result

TANH_SIGMA_W2 = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0)
TANH_DEPTHS = (2, 5, 10, 15, 20, 35, 45, 60, 80, 100)
RELU_DEPTHS = (2, 10, 30, 60)
XI_SIGMA_W2 = (0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)   # where ξ is measured (tanh)
XI_WIDTH, XI_PAIRS, XI_C0 = 1000, 64, 0.99

QUICK = {"sigma_w2": (1.0, 1.75, 3.0), "depths": (2, 10), "relu_depths": (2,), "steps": 30,
         "n_train": 10 * BATCH, "n_test": 500, "xi_sigma_w2": (1.0, 3.0), "xi_width": 300,
         "theory_points": 29}
THEORY_POINTS = 141                           # σ_w² = 0.5, 0.525, … 4 for the theory curves

PROTOCOL = ("plain SGD (no momentum), batch 128, a fixed number of steps, lr = 0.3 / L. Why 1/L: near the critical "
            "line every layer's weights get gradients of similar size, so one SGD step moves the output by an amount "
            "that grows ∝ L (the neural tangent kernel is a sum over layers); lr ∝ 1/L keeps that step depth-"
            "independent. 0.3 was the best of {0.3, 0.6}/L and of fixed lr ∈ {0.003, 0.01, 0.03, 0.1} in a 300-step "
            "pilot at σ_w² = 1.76, L = 10…100 (a fixed lr that trains L = 10 fast makes L = 100 diverge or stall).")

PUBLISHED = {
    "source": "Schoenholz, Gilmer, Ganguli, Sohl-Dickstein, 'Deep Information Propagation', ICLR 2017",
    "finding": "random tanh networks are trainable precisely when L ≲ 6 ξ_c (MNIST, CIFAR-10); ξ_c diverges at the "
               "order-to-chaos transition, so arbitrarily deep nets train only close to criticality",
    "trainable_depth_in_xi_c": 6,
    "sigma_b2": 0.05,
    "critical_sigma_w2_tanh": 1.76,
}


# ---------------------------------------------------------------------------------------------------- theory

def theory_point(name, sigma_w2, sigma_b2=SIGMA_B2):
    """q*, χ₁, χ_c, c*, ξ_c of one (activation, σ_w²); ReLU above σ_w² = 2 has no fixed point (q* = ∞)."""
    if name == "relu" and sigma_w2 >= 2.0:      # χ₁ = σ_w²/2 ≥ 1: the length grows without bound
        return {"sigma_w2": sigma_w2, "q_star": None, "chi1": sigma_w2 / 2, "chi_c": None, "c_star": None,
                "xi_c": math.inf if sigma_w2 == 2.0 else None}
    q = meanfield.fixed_point(name, sigma_w2, sigma_b2)
    chi_1 = meanfield.chi1(name, sigma_w2, q)
    chi, c_star = meanfield.chi_c(name, sigma_w2, sigma_b2, q)
    xi = math.inf if chi >= 1.0 else -1.0 / math.log(chi)
    return {"sigma_w2": sigma_w2, "q_star": q, "chi1": chi_1, "chi_c": chi, "c_star": c_star, "xi_c": xi}


def theory_curve(name, sigma_w2s, sigma_b2=SIGMA_B2):
    """:func:`theory_point` over σ_w² values, as lists (JSON-ready; ∞ becomes None)."""
    points = [theory_point(name, float(s), sigma_b2) for s in sigma_w2s]
    return {key: [_finite(p[key]) for p in points] for key in points[0]}


def _finite(x):
    return None if x is None or not math.isfinite(x) else float(x)


# --------------------------------------------------------------------------------- ξ measured on random nets

def pair_correlations(name, sigma_w2, sigma_b2, *, width, depth, n_pairs, c0, rng):
    """Correlations of ``n_pairs`` input pairs through one random net, layers l = 0 … depth.

    Layer 0 holds the pairs themselves: pre-activations of length q* per unit with correlation c₀. Layer l
    computes h_l = W_l φ(h_{l−1}) + b_l, W ~ N(0, σ_w²/width), b ~ N(0, σ_b²), one draw for both members of a
    pair. Returns (c, gap), both (depth+1, n_pairs): c_l = ĥ₁·ĥ₂ (ĥ = h/‖h‖) and gap_l = 1 − c_l computed as
    ½‖ĥ₁ − ĥ₂‖², which stays accurate when c → 1.
    """
    q = meanfield.fixed_point(name, sigma_w2, sigma_b2)
    f = meanfield.phi(name)
    z1 = rng.standard_normal((n_pairs, width))
    z2 = c0 * z1 + math.sqrt(1.0 - c0 * c0) * rng.standard_normal((n_pairs, width))
    h = math.sqrt(q) * np.vstack([z1, z2])                   # (2P, width): rows 0…P−1 first members

    def one_minus_c(h):
        u = h / np.linalg.norm(h, axis=1, keepdims=True)
        return 0.5 * ((u[:n_pairs] - u[n_pairs:]) ** 2).sum(axis=1)

    gaps = [one_minus_c(h)]
    for _ in range(depth):
        W = rng.normal(0.0, math.sqrt(sigma_w2 / width), (width, width))
        b = rng.normal(0.0, math.sqrt(sigma_b2), width)
        h = f(h) @ W.T + b
        gaps.append(one_minus_c(h))
    gaps = np.array(gaps)
    return 1.0 - gaps, gaps


def fit_correlation_depth(c, gap, linear=(0.05, 0.3), tail=0.25):
    """ξ from c_l → c_∞: the decay length of |c_l − c_∞| ≈ A·exp(−l/ξ), by a straight line through log|c_l − c_∞|.

    c, gap : (depth+1,) correlations and 1 − c per layer (``gap`` keeps 1 − c accurate near 1).
    If the gap still shrinks tenfold from the middle layer to the last, the pairs merge (ordered phase):
    c_∞ = 1 and |c_l − c_∞| = gap_l, whose noise shrinks with it. Otherwise (chaotic phase) c_∞ is the mean
    over the deepest ``tail`` share of layers, and the fit stops where |c_l − c_∞| meets 3× the tail's standard
    deviation, the finite-width noise floor. Only layers with |c_l − c_∞| ≤ ``linear`` (ordered, chaotic) are
    fitted, where the correlation map is linear (slope χ_c): on the noise-free mean-field map these windows bias
    ξ by < 1 % (ordered) and < 8 % (chaotic, σ_w² = 2 … 4). Returns (ξ, c_∞, fitted layers) or
    (None, c_∞, []) when fewer than 4 layers qualify.
    """
    n_tail = max(3, int(len(c) * tail))
    c_inf = float(c[-n_tail:].mean())
    if gap[-1] < 0.1 * gap[len(gap) // 2]:
        c_inf, dist, floor, window = 1.0, np.asarray(gap), 1e-13, linear[0]
    else:
        dist, floor, window = np.abs(c - c_inf), 3.0 * float(c[-n_tail:].std()), linear[1]
    layers = []
    for layer, d in enumerate(dist):
        if d <= floor:
            break
        if d <= window:
            layers.append(layer)
    if len(layers) < 4:
        return None, c_inf, []
    slope = np.polyfit(layers, np.log(dist[layers]), 1)[0]
    return (-1.0 / slope if slope < 0 else None), c_inf, layers


def relaxation_depth(c):
    """ξ from the fluctuations of c around its fixed point: c (layers, pairs), all layers past the approach.

    At finite width each layer adds fresh noise ε_l of size ~1/√width, and the linearised map pulls deviations
    back with slope χ_c: δ_{l+1} = χ_c δ_l + ε_{l+1}. So χ_c is the lag-1 regression coefficient of the
    deviations δ (each pair's c minus the mean over pairs at that layer, which removes the net-wide common
    shift), and ξ = −1/ln χ_c: the same rate as the approach, read where the approach is lost in the noise.
    """
    d = c - c.mean(axis=1, keepdims=True)
    chi = float((d[1:] * d[:-1]).sum() / (d[:-1] ** 2).sum())
    return -1.0 / math.log(chi) if 0.0 < chi < 1.0 else None


def xi_depth(sigma_w2, sigma_b2=SIGMA_B2):
    """Layers to propagate for a ξ measurement: ~10 predicted ξ, at most 300, and at least 40 on the ordered side
    and 120 on the chaotic side (whose fluctuations are read from the second half)."""
    xi = meanfield.correlation_depth("tanh", sigma_w2, sigma_b2)
    least = 40 if sigma_w2 < meanfield.critical_sigma_w2("tanh", sigma_b2) else 120
    return int(min(300, max(least, math.ceil(10 * xi))))


def measure_xi(task):
    """One σ_w²: c_l of pairs through a random tanh net, ξ measured, and the mean-field prediction.

    Ordered phase (the pairs merge): ξ is the decay length of 1 − c_l (:func:`fit_correlation_depth`). Chaotic
    phase: the approach to c* falls into the finite-width noise within 1–2 e-folds at width 1000, so ξ comes
    from the relaxation of the fluctuations around c* over the second half of the layers
    (:func:`relaxation_depth`); the approach fit is reported beside it when it has 4 layers to fit.
    """
    sigma_w2, sigma_b2, width, n_pairs, c0, seed = task
    depth = xi_depth(sigma_w2, sigma_b2)
    rng = np.random.default_rng([seed, 7, round(sigma_w2 * 1000)])
    c_pairs, gap_pairs = pair_correlations("tanh", sigma_w2, sigma_b2, width=width, depth=depth, n_pairs=n_pairs,
                                           c0=c0, rng=rng)
    c, gap = c_pairs.mean(axis=1), gap_pairs.mean(axis=1)
    xi_approach, c_inf, layers = fit_correlation_depth(c, gap)
    ordered = c_inf == 1.0
    xi_relax = None if ordered else relaxation_depth(c_pairs[depth // 2:])
    theory = theory_point("tanh", sigma_w2, sigma_b2)
    predicted = [c0]                                 # the mean-field correlation map from the same c₀
    for _ in range(depth):
        predicted.append(min(1.0, meanfield.correlation_map(predicted[-1], "tanh", sigma_w2, sigma_b2,
                                                            theory["q_star"])))
    return {"sigma_w2": sigma_w2, "phase": "ordered" if ordered else "chaotic",
            "xi_formula": _finite(theory["xi_c"]), "xi_measured": xi_approach if ordered else xi_relax,
            "method": "approach fit" if ordered else "fluctuation relaxation",
            "xi_approach_fit": xi_approach, "fit_layers": [layers[0], layers[-1]] if layers else None,
            "xi_relaxation": xi_relax, "c_star_formula": theory["c_star"], "c_inf_measured": c_inf,
            "depth": depth, "c_measured": c.tolist(), "gap_measured": gap.tolist(),
            "c_mean_field": predicted}


# ------------------------------------------------------------------------------------------- the trained grid

def cell_settings(activation, sigma_w2, depth, *, steps, n_train, n_test, seed, dtype, data_source):
    """Everything that determines one cell's result (the cache key hashes exactly this)."""
    return {"activation": activation, "sigma_w2": float(sigma_w2), "sigma_b2": SIGMA_B2, "depth": int(depth),
            "width": WIDTH, "batch": BATCH, "steps": int(steps), "lr": LR_SCALE / depth, "n_train": n_train,
            "n_test": n_test, "seed": seed, "dtype": dtype, "data": data_source, "version": CACHE_VERSION}


def cache_path(cache_dir, settings):
    """<cache_dir>/<activation>-w<σ_w²>-L<L>-<first 16 hex of sha256(settings)>.json."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{settings['activation']}-w{settings['sigma_w2']:g}-L{settings['depth']}-{digest}.json"


def read_cached(cache_dir, settings):
    """The cached result of a cell, or None (no file, a half-written or foreign file, other settings)."""
    if cache_dir is None:
        return None
    try:
        record = json.loads(cache_path(cache_dir, settings).read_text())
    except (OSError, ValueError):
        return None
    return record["result"] if isinstance(record, dict) and record.get("settings") == settings else None


def build(settings, rng):
    """The cell's network: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) in every layer."""
    sizes = [784] + [WIDTH] * settings["depth"] + [10]
    weights = [("normal", {"std": math.sqrt(settings["sigma_w2"] / n)}) for n in sizes[:-1]]
    return npnet.mlp(sizes, settings["activation"], weights, ("normal", {"std": math.sqrt(settings["sigma_b2"])}),
                     rng=rng, dtype=np.dtype(settings["dtype"]).type)


class _StepsDone(Exception):
    """Raised from ``train``'s step callback once the fixed number of steps is reached."""


def train_cell(task):
    """Train one (activation, σ_w², L) cell and cache its result: {test_acc, train_acc, final_loss, diverged}.

    ``task`` = (settings, data, cache_dir). The Generator is seeded by (seed, L) only, so every σ_w² and both
    activations at one depth start from the same standard normals, scaled, and see the same batches (common
    random numbers: the heatmap's columns differ by σ_w² alone).
    """
    settings, (X_train, y_train, X_test, y_test), cache_dir = task
    start = time.perf_counter()
    rng = np.random.default_rng([settings["seed"], settings["depth"]])
    net = build(settings, rng)
    steps_per_pass = math.ceil(len(X_train) / settings["batch"])
    losses = []

    def on_step(epoch, step, net, value):
        losses.append(value)
        if len(losses) == settings["steps"]:
            raise _StepsDone

    diverged = None
    try:
        with np.errstate(over="ignore", invalid="ignore"):     # a diverging cell overflows on its way to inf
            npnet.train(net, X_train, y_train, optimizer=npnet.SGD(net, lr=settings["lr"]),
                        epochs=math.ceil(settings["steps"] / steps_per_pass), batch_size=settings["batch"],
                        rng=rng, eval_train=False, on_step=on_step)
    except _StepsDone:
        pass
    except FloatingPointError as exc:            # the loss overflowed: that cell does not train
        diverged = str(exc)
    with np.errstate(all="ignore"):              # a diverged net's logits may be inf/NaN: argmax still counts
        test_acc = npnet.evaluate(net, X_test, y_test)["accuracy"]
        train_acc = npnet.evaluate(net, X_train, y_train)["accuracy"]
    tail = losses[-steps_per_pass:]
    result = {"test_acc": test_acc, "train_acc": train_acc, "steps_done": len(losses),
              "final_loss": float(np.mean(tail)) if tail and diverged is None else None, "diverged": diverged}
    if cache_dir is not None:
        common.write_json(cache_path(cache_dir, settings),
                          {"settings": settings, "result": result, "seconds": time.perf_counter() - start})
    print(f"  cell {settings['activation']} σ_w²={settings['sigma_w2']:g} L={settings['depth']}: "
          f"test acc {test_acc:.3f}{' (diverged)' if diverged else ''}, {time.perf_counter() - start:.1f} s",
          flush=True)
    return result


def run_cells(cells, data, cache_dir, jobs, progress):
    """Results of every cell (in the order given): cached ones read, the rest trained in parallel."""
    results = [read_cached(cache_dir, s) for s in cells]
    todo = [i for i, r in enumerate(results) if r is None]
    progress(f"{len(cells)} cells: {len(cells) - len(todo)} from the cache, {len(todo)} to train "
             f"(--jobs {jobs})")
    todo.sort(key=lambda i: -cells[i]["depth"])     # deepest (slowest) first: the workers finish together
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    trained = common.parallel_map(train_cell, [(cells[i], tuple(data[:4]), cache_dir) for i in todo], jobs)
    for i, r in zip(todo, trained):
        results[i] = r
    return results


# ------------------------------------------------------------------------------------------------ the verdict

def annotate(cells, results, theory_by_cell):
    """One JSON row per cell: settings, result, ξ_c, L/ξ_c, predicted (L ≤ 6ξ_c) and measured trainability."""
    rows = []
    for s, r in zip(cells, results):
        t = theory_by_cell[(s["activation"], s["sigma_w2"])]
        xi = t["xi_c"]
        predicted = None if xi is None else bool(s["depth"] <= PUBLISHED["trainable_depth_in_xi_c"] * xi)
        rows.append({"activation": s["activation"], "sigma_w2": s["sigma_w2"], "depth": s["depth"], "lr": s["lr"],
                     **r, "trained": r["test_acc"] >= TRAINED, "xi_c": _finite(xi),
                     "depth_over_xi_c": None if xi is None else (0.0 if math.isinf(xi) else s["depth"] / xi),
                     "predicted_trainable": predicted})
    return rows


def verdict(rows, activation):
    """How well "trained iff L ≤ 6ξ_c" describes one activation's cells, and the same count for 3ξ_c."""
    out = {}
    for factor in (3, 6):
        mine = [r for r in rows if r["activation"] == activation and r["depth_over_xi_c"] is not None]
        inside = [r for r in mine if r["depth_over_xi_c"] <= factor]
        outside = [r for r in mine if r["depth_over_xi_c"] > factor]
        agree = sum(r["trained"] for r in inside) + sum(not r["trained"] for r in outside)
        out[f"{factor}xi"] = {
            "cells": len(mine), "agree": agree, "agreement": agree / len(mine) if mine else None,
            "inside_trained": f"{sum(r['trained'] for r in inside)}/{len(inside)}",
            "outside_failed": f"{sum(not r['trained'] for r in outside)}/{len(outside)}",
            "exceptions": [{k: r[k] for k in ("sigma_w2", "depth", "test_acc", "depth_over_xi_c")}
                           for r in inside if not r["trained"]] + [
                          {k: r[k] for k in ("sigma_w2", "depth", "test_acc", "depth_over_xi_c")}
                           for r in outside if r["trained"]]}
    return out


def deepest_trained(rows, activation):
    """Per σ_w²: the deepest trained L on the grid, beside 6ξ_c ("inf" on the critical line, None where the
    length map has no fixed point)."""
    table = []
    for s in sorted({r["sigma_w2"] for r in rows if r["activation"] == activation}):
        col = [r for r in rows if r["activation"] == activation and r["sigma_w2"] == s]
        ok = [r["depth"] for r in col if r["trained"]]
        xi, ratio = col[0]["xi_c"], col[0]["depth_over_xi_c"]
        table.append({"sigma_w2": s, "deepest_trained": max(ok) if ok else None,
                      "six_xi_c": 6 * xi if xi is not None else ("inf" if ratio == 0.0 else None),
                      "best_test_acc": max(r["test_acc"] for r in col)})
    return table


# ------------------------------------------------------------------------------------------------- figures

def _edges(values, log=False):
    """Cell edges for pcolormesh: midpoints between grid values (geometric midpoints on a log axis)."""
    v = np.asarray(sorted(values), dtype=float)
    if log:
        return np.exp(_edges(np.log(v)))
    mid = (v[1:] + v[:-1]) / 2
    half = (v[1] - v[0]) / 2 if len(v) > 1 else 0.25
    last = (v[-1] - v[-2]) / 2 if len(v) > 1 else 0.25
    return np.concatenate([[v[0] - half], mid, [v[-1] + last]])


def _heatmap(ax, rows, activation, theory, critical, xi_rows, title):
    sws = sorted({r["sigma_w2"] for r in rows if r["activation"] == activation})
    depths = sorted({r["depth"] for r in rows if r["activation"] == activation})
    acc = np.full((len(depths), len(sws)), np.nan)
    for r in rows:
        if r["activation"] == activation:
            acc[depths.index(r["depth"]), sws.index(r["sigma_w2"])] = r["test_acc"]
    y_edges = _edges(depths, log=True)
    mesh = ax.pcolormesh(_edges(sws), y_edges, acc, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_yscale("log")
    ax.set_yticks(depths, [str(d) for d in depths])
    ax.minorticks_off()
    for i, d in enumerate(depths):
        for j, s in enumerate(sws):
            ax.text(s, d, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=5.5,
                    color="white" if acc[i, j] < 0.6 else "black")
    top = y_edges[-1]
    s_fine = np.asarray(theory["sigma_w2"])
    xi = np.array([np.nan if x is None else x for x in theory["xi_c"]], dtype=float)
    for factor, style in ((3, ":"), (6, "--")):
        ax.plot(s_fine, np.minimum(factor * xi, 10 * top), "w" + style, lw=1.6, label=f"L = {factor} ξ_c")
    ax.axvline(critical, color="red", lw=1.2, label=f"critical σ_w² = {critical:.3f} (χ₁ = 1)")
    if activation == "tanh":
        ax.plot([PUBLISHED["critical_sigma_w2_tanh"]], [top], "rv", ms=8, clip_on=False,
                label=f"published critical σ_w² ≈ {PUBLISHED['critical_sigma_w2_tanh']}")
        meas = [(x["sigma_w2"], 6 * x["xi_measured"]) for x in xi_rows if x["xi_measured"]]
        if meas:
            ax.plot(*zip(*meas), "wo", mec="k", ms=5, label="6 ξ measured (wide random nets)")
    ax.set_ylim(y_edges[0], top)
    ax.set_xlim(_edges(sws)[0], _edges(sws)[-1])
    ax.set_xlabel("σ_w²  (W ~ N(0, σ_w²/fan_in))")
    ax.set_ylabel("depth L (hidden layers, log scale)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, facecolor="0.45",
              labelcolor="white")            # a grey box: the ξ_c lines are white, as on the heatmap
    return mesh


def figures(result, out):
    import matplotlib.pyplot as plt
    rows, th, xi_rows = result["cells"], result["theory"], result["correlation_depth"]["rows"]
    p = result["protocol"]
    has_relu = any(r["activation"] == "relu" for r in rows)
    fig, axes = plt.subplots(1, 2 if has_relu else 1, figsize=(13 if has_relu else 7.5, 6),
                             gridspec_kw={"width_ratios": [1.35, 1]} if has_relu else None, squeeze=False)
    common_title = (f"width {p['width']}, σ_b² = {p['sigma_b2']}, {p['steps']} SGD steps, batch {p['batch']}, "
                    f"lr = {LR_SCALE}/L")
    mesh = _heatmap(axes[0, 0], rows, "tanh", th["tanh"], th["tanh"]["critical_sigma_w2"], xi_rows,
                    f"tanh: MNIST test accuracy\n{common_title}")
    if has_relu:
        _heatmap(axes[0, 1], rows, "relu", th["relu"], 2.0, [], "ReLU (σ_w² > 2: no fixed point, q grows ×σ_w²/2 "
                 "per layer)\nξ_c = −1/ln(σ_w²/2) below 2")
    fig.colorbar(mesh, ax=axes[0, -1], label="test accuracy")
    fig.suptitle(f"Trainability phase diagram vs mean-field theory ({result['data']['source']})", fontsize=10)
    common.save_figure(fig, out / "phase_diagram.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    for x, color in zip(xi_rows, plt.cm.coolwarm(np.linspace(0, 1, len(xi_rows)))):
        n = len(x["gap_measured"])
        ax.semilogy(range(n), x["gap_measured"], "o", ms=2, color=color, label=f"σ_w² = {x['sigma_w2']:g}")
        ax.semilogy(range(n), 1.0 - np.asarray(x["c_mean_field"]), "-", lw=1, color=color)
    ax.set_xlim(0, 120)
    ax.set_ylim(1e-12, 2)
    ax.set_xlabel("layer l")
    ax.set_ylabel("1 − c_l  (c_l: correlation of two inputs)")
    ax.set_title(f"c₀ = {XI_C0}: measured (dots, width {result['correlation_depth']['width']}) vs mean-field map "
                 "(lines)\nordered: 1 − c → 0 with slope −1/ξ; chaotic: 1 − c → 1 − c*", fontsize=8.5)
    ax.legend(fontsize=6.5, ncol=2)
    ax = axes[1]
    s = np.asarray(th["tanh"]["sigma_w2"])
    ax.semilogy(s, [np.nan if v is None else v for v in th["tanh"]["xi_c"]], "k-", label="ξ_c = −1/ln χ_c (formula)")
    if xi_rows:
        for method, marker in (("approach fit", "o"), ("fluctuation relaxation", "s")):
            pts = [(x["sigma_w2"], x["xi_measured"]) for x in xi_rows if x["xi_measured"] and x["method"] == method]
            if pts:
                ax.semilogy(*zip(*pts), marker, color="tab:orange", label=f"ξ measured: {method}")
    ax.axvline(th["tanh"]["critical_sigma_w2"], color="red", lw=1, label="critical σ_w²")
    ax.set_ylim(0.5, 1e3)
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("correlation depth ξ (layers)")
    ax.set_title(f"tanh, σ_b² = {SIGMA_B2}: ξ diverges at the critical line", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.plot(s, th["tanh"]["q_star"], label="q* (fixed point of the length map)")
    ax.plot(s, th["tanh"]["chi1"], label="χ₁ = σ_w² E[φ'(√q* z)²]")
    ax.plot(s, th["tanh"]["c_star"], label="c* (correlation fixed point)")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.axvline(th["tanh"]["critical_sigma_w2"], color="red", lw=1)
    ax.set_xlabel("σ_w²")
    ax.set_title("tanh: ordered (χ₁ < 1) | chaotic (χ₁ > 1)", fontsize=9)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.05, right=0.99, wspace=0.22)     # (tight_layout costs seconds of text layout)
    common.save_figure(fig, out / "phase_correlation_depth.png")


# --------------------------------------------------------------------------------------------------- command

def _float_list(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = None
    if not values or not all(0.0 < v <= 100.0 and math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated σ_w² values in (0, 100], got {text!r}")
    return tuple(values)


def _int_list(text, allow_empty=False):
    if allow_empty and text.strip() == "":
        return ()
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text) or any(int(v) < 1 for v in text.split(",")):
        raise argparse.ArgumentTypeError(f"expected comma-separated depths >= 1, got {text!r}")
    return tuple(int(v) for v in text.split(","))


def _cache_arg(text):
    """argparse type for --cache: a directory path (``~`` expanded) that is not an existing file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory path, got an empty string")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} exists and is not a directory")
    return path


def make_parser():
    p = common.parser("python -m experiments.phase", __doc__.split("\n")[0], jobs=True, shared="--cache")
    p.add_argument("--steps", type=common.positive_int_arg, default=None,
                   help=f"SGD steps per cell (default: {STEPS}, {QUICK['steps']} with --quick)")
    p.add_argument("--sigma-w2", type=_float_list, default=None,
                   help="comma-separated σ_w² grid (default: " + ",".join(f"{v:g}" for v in TANH_SIGMA_W2) + ")")
    p.add_argument("--depths", type=_int_list, default=None,
                   help="comma-separated depths of the tanh grid (default: " + ",".join(map(str, TANH_DEPTHS)) + ")")
    p.add_argument("--relu-depths", type=functools.partial(_int_list, allow_empty=True), default=None,
                   help="depths of the ReLU row, '' for none (default: " + ",".join(map(str, RELU_DEPTHS)) + ")")
    p.add_argument("--cache", type=_cache_arg, default=None,
                   help="directory of the per-cell cache (default: <out>/.phase-cache); with --dask the workers "
                        "write it, so it must be on a file system they share (absolute with a remote scheduler)")
    p.add_argument("--no-cache", action="store_true",
                   help="train every cell; neither read nor write the cache (default: resume from it)")
    p.set_defaults(dtype=DTYPE)
    return p


def cache_option(args, out):
    """The cache directory as given (--cache, else <out>/.phase-cache), or None with --no-cache."""
    return None if args.no_cache else (args.cache or out / ".phase-cache")


def main(argv=None):
    args, out, progress = common.start(make_parser(), argv, shared=lambda a, o: {"--cache": cache_option(a, o)})
    t0 = time.perf_counter()
    q = args.quick
    steps = args.steps or (QUICK["steps"] if q else STEPS)
    sws = args.sigma_w2 or (QUICK["sigma_w2"] if q else TANH_SIGMA_W2)
    depths = args.depths or (QUICK["depths"] if q else TANH_DEPTHS)
    relu_depths = args.relu_depths if args.relu_depths is not None else (QUICK["relu_depths"] if q else RELU_DEPTHS)
    n_train, n_test = (QUICK["n_train"], QUICK["n_test"]) if q else (N_TRAIN, N_TEST)
    cache_dir = cache_option(args, out)
    if cache_dir is not None:
        cache_dir = Path(cache_dir).absolute()       # the workers (a Dask worker's own working directory) write it
        try:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise common.UsageError(f"cannot use --cache {cache_dir}: {exc.strerror or exc}") from None

    progress(f"loading MNIST ({n_train}/{n_test} requested)")
    data = common.load_mnist(args, n_train, n_test, dtype=np.dtype(args.dtype).type)
    progress(f"data: {data.source}")

    progress("theory: q*, χ₁, ξ_c by quadrature")
    fine = np.round(np.linspace(0.5, 4.0, QUICK["theory_points"] if q else THEORY_POINTS), 4)
    theory = {}
    for act in ("tanh", "relu"):
        theory[act] = theory_curve(act, fine)
        theory[act]["critical_sigma_w2"] = meanfield.critical_sigma_w2(act, SIGMA_B2)
    theory_by_cell = {(a, s): theory_point(a, s) for a in ("tanh", "relu") for s in sws}

    key = dict(steps=steps, n_train=len(data.X_train), n_test=len(data.X_test), seed=args.seed, dtype=args.dtype,
               data=data.source)
    cells = [cell_settings("tanh", s, d, data_source=key["data"], **_without(key, "data")) for d in depths for s in sws]
    cells += [cell_settings("relu", s, d, data_source=key["data"], **_without(key, "data"))
              for d in relu_depths for s in sws]
    progress(f"training {len(cells)} cells: {steps} steps each (cache: {cache_dir or 'off'})")
    results = run_cells(cells, data, cache_dir, args.jobs, progress)
    rows = annotate(cells, results, theory_by_cell)

    xi_settings = (QUICK["xi_sigma_w2"], QUICK["xi_width"]) if q else (XI_SIGMA_W2, XI_WIDTH)
    progress(f"measuring ξ: c₀ = {XI_C0} pairs through width-{xi_settings[1]} tanh nets, σ_w² = "
             + ", ".join(f"{s:g}" for s in xi_settings[0]))
    xi_rows = common.parallel_map(measure_xi, [(s, SIGMA_B2, xi_settings[1], XI_PAIRS, XI_C0, args.seed)
                                              for s in xi_settings[0]], args.jobs)
    for x in xi_rows:
        progress(f"  σ_w² = {x['sigma_w2']:g}: ξ measured {_fmt(x['xi_measured'])} vs formula "
                 f"{_fmt(x['xi_formula'])}; c_∞ {x['c_inf_measured']:.3f} vs c* {x['c_star_formula']:.3f}")

    verdicts = {act: verdict(rows, act) for act in ("tanh", "relu") if any(r["activation"] == act for r in rows)}
    deepest = {act: deepest_trained(rows, act) for act in verdicts}
    result = {
        "experiment": "phase",
        "data": data.info,
        "protocol": {"width": WIDTH, "sigma_b2": SIGMA_B2, "batch": BATCH, "steps": steps, "lr": f"{LR_SCALE} / L",
                     "lr_rule": PROTOCOL, "init": "W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²), every layer",
                     "trained_if_test_acc_at_least": TRAINED, "dtype": args.dtype, "seed": args.seed,
                     "quick": q, "n_train": len(data.X_train), "n_test": len(data.X_test),
                     "sigma_w2": list(sws), "depths": list(depths), "relu_depths": list(relu_depths)},
        "theory": theory,
        "correlation_depth": {"width": xi_settings[1], "pairs": XI_PAIRS, "c0": XI_C0, "rows": xi_rows},
        "cells": rows,
        "verdict": verdicts,
        "deepest_trained": deepest,
        "published": PUBLISHED,
    }
    report(result)
    figures(result, out)
    common.write_json(out / "phase.json", result)
    progress(f"wrote {out}/phase_diagram.png, {out}/phase_correlation_depth.png and {out}/phase.json")
    print(f"total time {time.perf_counter() - t0:.0f} s (--jobs {args.jobs})")


def _without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def _fmt(x, spec=".2f"):
    return "—" if x is None else format(x, spec)


def report(result):
    """The printed summary: data, theory, measured ξ, the deepest trained depth per σ_w², the verdict."""
    print(f"\ndata: {result['data']['source']}")
    th, relu = result["theory"]["tanh"], result["theory"]["relu"]
    print(f"critical σ_w² (χ₁ = 1, σ_b² = {SIGMA_B2}): tanh {th['critical_sigma_w2']:.4f} "
          f"(published ≈ {PUBLISHED['critical_sigma_w2_tanh']}), ReLU {relu['critical_sigma_w2']:g}")
    print("\nξ measured on random nets vs the formula:")
    print(common.format_table(
        ["σ_w²", "phase", "method", "ξ measured", "ξ formula", "ratio", "c_∞ measured", "c* formula"],
        [[f"{x['sigma_w2']:g}", x["phase"], x["method"], _fmt(x["xi_measured"]), _fmt(x["xi_formula"]),
          _fmt(x["xi_measured"] / x["xi_formula"] if x["xi_measured"] and x["xi_formula"] else None, ".3f"),
          f"{x['c_inf_measured']:.3f}", f"{x['c_star_formula']:.3f}"] for x in result["correlation_depth"]["rows"]]))
    for act, table in result["deepest_trained"].items():
        print(f"\n{act}: deepest trained depth (test acc ≥ {TRAINED}) per σ_w², beside 6ξ_c:")
        print(common.format_table(["σ_w²", "deepest trained L", "6 ξ_c", "best test acc"],
                                  [[f"{t['sigma_w2']:g}", t["deepest_trained"] or "none",
                                    {None: "— (q* = ∞)", "inf": "∞"}.get(t["six_xi_c"]) or f"{t['six_xi_c']:.1f}",
                                    f"{t['best_test_acc']:.3f}"] for t in table]))
        for name, v in result["verdict"][act].items():
            print(f"{act}, trained iff L ≤ {name[:-2]} ξ_c: {v['agree']}/{v['cells']} cells agree "
                  f"(inside trained {v['inside_trained']}, outside failed {v['outside_failed']})")


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.phase"))
