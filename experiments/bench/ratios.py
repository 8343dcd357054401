"""The speed targets, as ratios of medians measured in one run, and README's performance table from a bench.json."""
import re
import statistics

from .loops import LOOPS, NUMPY_LOOPS

#: npnet's default step ÷ the GEMM floor in the run committed before issue 23 (figures/bench.json of 2026-12-01):
#: the performance budget says it must not get slower than this
DEFAULT_OVER_FLOOR = {"float64": 1.35, "float32": 1.51}


def _targets():
    """[(description, numerator, denominator, bound)]: ratios of medians measured in one run, per dtype.

    "npnet" is the default (NumPy's BLAS, ``SGD``). A denominator "fastest_loop" means the fastest of ``LOOPS``,
    "fastest_numpy_loop" the fastest of ``NUMPY_LOOPS`` (the budget: layer objects and checks ≤ 5 % over it).
    """
    rows = []
    for d, floor_bound in DEFAULT_OVER_FLOOR.items():
        def row(text, num, den, bound=None, bound_text=""):
            return (f"{text}, {d}{bound_text}", f"{num}_{d}", f"{den}_{d}", bound)
        rows += [row("npnet / GEMM floor (NumPy's BLAS)", "npnet_blas", "gemm_floor", floor_bound,
                     f" ≤ {floor_bound:.2f}"),
                 row("npnet / fastest NumPy-only hand-written loop", "npnet_blas", "fastest_numpy_loop", 1.05,
                     " ≤ 1.05"),
                 row("GEMM floor: SciPy's BLAS / NumPy's", "gemm_floor_scipy", "gemm_floor"),
                 row("GEMM floor + gather + SGD update / GEMM floor", "floor_gather_update", "gemm_floor"),
                 row("minimal NumPy loop / GEMM floor", "numpy_minimal", "gemm_floor"),
                 row("optimised NumPy loop / GEMM floor", "numpy_optimised", "gemm_floor"),
                 row("SciPy-BLAS flat loop, fused SGD / GEMM floor", "scipy_flat", "gemm_floor"),
                 row("SciPy-BLAS loop with objects / GEMM floor", "scipy_objects", "gemm_floor"),
                 row("npnet / fastest hand-written loop (SciPy's included)", "npnet_blas", "fastest_loop"),
                 row("npnet exact / npnet", "npnet_exact", "npnet_blas", 8.0, " ≤ 8"),
                 row("npnet / scikit-learn", "npnet_blas", "sklearn", 1 / 1.7, " ≤ 1/1.7"),
                 row("npnet / PyTorch", "npnet_blas", "torch", 1 / 1.3, " ≤ 1/1.3"),
                 row("PyTorch / scikit-learn", "torch", "sklearn")]
    return rows + [("npnet float32 / float64 (≈ 0.5 where GEMM is)", "npnet_blas_float32", "npnet_blas_float64",
                    None),
                   ("GEMM floor float32 / float64", "gemm_floor_float32", "gemm_floor_float64", None)]


TARGETS = _targets()


def ratio_rows(times, targets=TARGETS):
    """Each target's ratio in this run: of medians, the median of per-round ratios, and of minima."""
    median = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for text, num, den, bound in targets:
        for prefix, among in (("fastest_loop_", LOOPS), ("fastest_numpy_loop_", NUMPY_LOOPS)):
            if den.startswith(prefix):
                loops = [f"{loop}_{den[len(prefix):]}" for loop in among]
                den = min((name for name in loops if name in median), key=median.get, default=den)
        if num not in median or den not in median:
            continue
        value = median[num] / median[den]
        # the same ratio taken within each round, then the median: both sides saw the same neighbours
        paired = statistics.median(a / b for a, b in zip(times[num], times[den]))
        # and of the fastest rounds: noise on a shared machine only ever adds time
        of_minima = min(times[num]) / min(times[den])
        rows.append({"target": text, "numerator": num, "denominator": den, "ratio": value, "paired_ratio": paired,
                     "ratio_of_minima": of_minima, "bound": bound,
                     "met": None if bound is None else value <= bound})
    return rows


def readme_table(result):
    """README's performance table (Markdown) from a bench.json: per ratio and dtype, the ratio of medians, then in
    parentheses the ratio of minima and the middle half of the per-round ratios (the run's noise)."""
    times = result["seconds"]
    table, targets = {}, {}
    for r in result["ratios"]:
        match = re.fullmatch(r"(.*), (float64|float32)(?: (≤ .*))?", r["target"])
        if match is None:
            continue
        label, dtype, bound = match.groups()
        per_round = [a / b for a, b in zip(times[r["numerator"]], times[r["denominator"]])]
        q1, _, q3 = statistics.quantiles(per_round, n=4) if len(per_round) > 1 else per_round * 3
        cell = f"{r['ratio']:.2f} ({r['ratio_of_minima']:.2f}; {q1:.2f}–{q3:.2f})"
        if r["denominator"].startswith(LOOPS):
            cell += f" vs {r['denominator'].rsplit('_', 1)[0]}"
        if r["numerator"].startswith("npnet") and r["denominator"].startswith(("sklearn", "torch")):
            cell += f": {1 / r['ratio']:.2f}× faster"
        table.setdefault(label, {})[dtype] = cell
        if bound:
            targets.setdefault(label, []).append(f"{bound} ({dtype[5:]}): {'met' if r['met'] else '**not met**'}")
    lines = [f"| ratio ({result['config']['rounds']} interleaved rounds, one run) | float64 | float32 | target |",
             "|---|---|---|---|"]
    for label, cells in table.items():
        lines.append(f"| {label} | {cells.get('float64', '–')} | {cells.get('float32', '–')} | "
                     f"{', '.join(targets.get(label, ['–']))} |")
    return "\n".join(lines)
