"""The trained grid: one (activation, σ_w², L) cell trained with the protocol, the per-cell cache that lets a run
resume, and the verdict "trained iff L ≤ 6ξ_c"."""
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np

import npnet
from npnet._io import open_regular, remove_stale

from .. import _outputs as outputs, _parallel as parallel
from .protocol import BATCH, CACHE_VERSION, LR_SCALE, PUBLISHED, SIGMA_B2, TRAINED, WIDTH
from .theory import finite


def cell_settings(activation, sigma_w2, depth, *, steps, n_train, n_test, seed, dtype, data_source):
    """Everything that determines one cell's result (the cache key hashes exactly this)."""
    return {"activation": activation, "sigma_w2": float(sigma_w2), "sigma_b2": SIGMA_B2, "depth": int(depth),
            "width": WIDTH, "batch": BATCH, "steps": int(steps), "lr": LR_SCALE / depth, "n_train": n_train,
            "n_test": n_test, "seed": seed, "dtype": dtype, "data": data_source, "version": CACHE_VERSION}


def cache_path(cache_dir, settings):
    """<cache_dir>/<activation>-w<σ_w²>-L<L>-<first 16 hex of sha256(settings)>.json."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{settings['activation']}-w{settings['sigma_w2']:g}-L{settings['depth']}-{digest}.json"


CELL_MAX_BYTES = 64 * 1024   # a cell's JSON is under 1 KB; anything far larger is not one
RESULT_KEYS = {"test_acc", "train_acc", "steps_done", "final_loss", "diverged"}


def read_cached(cache_dir, settings, notice=None):
    """The cached result of a cell, or None: no file, or one that fails ``cell_problem``'s checks, in which case
    ``notice`` (if given) gets one line saying why and the cell is trained again.

    A cache file is input from outside (another version, a crash, a hand edit): only a regular file of at most
    ``CELL_MAX_BYTES`` is read, and its result must have the schema, types and ranges a trained cell gives.
    """
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, settings)
    try:
        with open_regular(path, CELL_MAX_BYTES) as f:
            record = json.loads(f.read(CELL_MAX_BYTES + 1))
        problem = cell_problem(record, settings)
    except FileNotFoundError:
        return None
    except RecursionError:
        problem = "nested too deeply to be a cell"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except ValueError as exc:     # not JSON, not UTF-8, not a regular file, too large
        problem = str(exc)
    if problem is None:
        return record["result"]
    if notice is not None:
        notice(f"cache: {path.name} is not a usable cell ({problem}); training that cell again")
    return None


def cell_problem(record, settings):
    """What is wrong with a cache record for ``settings`` (a short phrase), or None if it is a trained cell's."""
    if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
        return "no 'result' object"
    if record.get("settings") != settings:
        return "its settings are not this cell's"
    result = record["result"]
    if set(result) != RESULT_KEYS:
        return f"result keys {sorted(result)}, expected {sorted(RESULT_KEYS)}"
    for key in ("test_acc", "train_acc"):
        if not _real(result[key]) or not 0.0 <= result[key] <= 1.0:
            return f"{key} {result[key]!r} is not an accuracy in [0, 1]"
    steps, diverged = result["steps_done"], result["diverged"]
    if diverged is not None and not isinstance(diverged, str):
        return f"diverged {diverged!r} is neither null nor a message"
    if not (isinstance(steps, int) and not isinstance(steps, bool) and 0 <= steps <= settings["steps"]) or (
            diverged is None and steps != settings["steps"]):
        return f"steps_done {steps!r} does not fit {settings['steps']} steps"
    loss = result["final_loss"]
    if loss is not None and not (_real(loss) and loss >= 0.0):
        return f"final_loss {loss!r} is neither null nor a finite loss >= 0"
    return None


def _real(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def build(settings, rng):
    """The cell's network: W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) in every layer."""
    sizes = [784] + [WIDTH] * settings["depth"] + [10]
    weights = [("normal", {"std": math.sqrt(settings["sigma_w2"] / n)}) for n in sizes[:-1]]
    return npnet.mlp(sizes, settings["activation"], weights, ("normal", {"std": math.sqrt(settings["sigma_b2"])}),
                     rng=rng, dtype=np.dtype(settings["dtype"]).type)


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
    losses, diverged = [], None
    try:
        npnet.train(net, X_train, y_train, optimizer=npnet.SGD(net, lr=settings["lr"]), max_steps=settings["steps"],
                    batch_size=settings["batch"], rng=rng, eval_train=False,
                    on_step=lambda epoch, step, net, value: losses.append(value))
    except npnet.DivergenceError as exc:         # the loss overflowed: that cell does not train
        diverged = str(exc)
    with np.errstate(all="ignore"):              # a diverged net's logits may be inf/NaN: argmax still counts
        test_acc = npnet.evaluate(net, X_test, y_test)["accuracy"]
        train_acc = npnet.evaluate(net, X_train, y_train)["accuracy"]
    tail = losses[-steps_per_pass:]
    result = {"test_acc": test_acc, "train_acc": train_acc, "steps_done": len(losses),
              "final_loss": float(np.mean(tail)) if tail and diverged is None else None, "diverged": diverged}
    if cache_dir is not None:
        outputs.write_json(cache_path(cache_dir, settings),
                           {"settings": settings, "result": result, "seconds": time.perf_counter() - start})
    print(f"  cell {settings['activation']} σ_w²={settings['sigma_w2']:g} L={settings['depth']}: "
          f"test acc {test_acc:.3f}{' (diverged)' if diverged else ''}, {time.perf_counter() - start:.1f} s",
          flush=True)
    return result


def run_cells(cells, data, cache_dir, jobs, progress):
    """Results of every cell (in the order given): cached ones read, the rest trained in parallel."""
    if cache_dir is not None:
        removed = remove_stale(cache_dir)
        if removed:
            progress(f"cache: removed {len(removed)} temporary file(s) of killed runs")
    results = [read_cached(cache_dir, s, notice=progress) for s in cells]
    todo = [i for i, r in enumerate(results) if r is None]
    progress(f"{len(cells)} cells: {len(cells) - len(todo)} from the cache, {len(todo)} to train "
             f"({parallel.where(jobs)})")
    todo.sort(key=lambda i: -cells[i]["depth"])     # deepest (slowest) first: the workers finish together
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    trained = parallel.parallel_map(train_cell, [(cells[i], tuple(data[:4]), cache_dir) for i in todo], jobs)
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
                     **r, "trained": r["test_acc"] >= TRAINED, "xi_c": finite(xi),
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
