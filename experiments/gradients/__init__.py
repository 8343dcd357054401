"""Gradient checks made visible: backprop against finite differences, and gradients vanishing or exploding with depth.

Run:  python -m experiments.gradients            (full run, well under a minute on 2 cores)
      python -m experiments.gradients --quick    (seconds; same files)

Every input is random Gaussian (no MNIST, hence no --data option). All checks use ``npnet.gradcheck``, the code the
test suite uses.
  1. Check table: max relative error of every layer's, activation's, loss's and whole net's backward against
     central differences, in float64 and float32 (and float32 nets checked on a float64 copy, and smooth nets by
     the complex step) → stdout and gradients.json.
  2. Error vs step size h = 1e-1 … 1e-12 for forward, central (order 2 and 4) differences and the complex step on
     a smooth tanh net: truncation slopes 1, 2, 4, the round-off rise ∝ ε/h, the best h → gradcheck_step_size.png.
  3. ReLU kinks: a net whose pre-activations sit at or within h of 0, checked naively (a correct backward "fails"),
     by skipping the kink coordinates (a backward wrong only at the kink passes) and by the subgradient check
     (right on both counts), for two correct conventions of relu'(0) and two deliberately wrong backwards.
  4. Activation derivatives (σ' ≤ 1/4 at 0, tanh' ≤ 1, relu' a step) with finite differences on top
     → activation_derivatives.png.
  5. ‖dW‖ per layer of a 10-hidden-layer net (width 256, batch 256) at initialization, for sigmoid / tanh / relu
     under N(0, 0.01²), N(0, 1), Xavier and He, averaged over seeds, beside the backward mean-field prediction
     → gradient_norms.png.
  6. A ReLU net initialized all-zero: every gradient but the output bias's is exactly 0.
--dtype sets the dtype of the depth study (5); parts 1–3 always cover float64 and float32.

The code is split by study: ``checks`` (parts 1, 3, 6), ``step_size`` (2) and ``depth_norms`` (4, 5); this module runs them
and writes the outputs.
"""
import numpy as np

from npnet import gradcheck

from .. import _cli as cli, _console as console, _outputs as outputs, _parallel as parallel
from .checks import (CS231N_THRESHOLD, KinkBugReLU, backprop, float32_summary, kink_study, layer_rows, near_kink_net,
                     net_rows, relu_all_zero)
from .depth_norms import activation_derivatives, depth_study, plot_activation_derivatives, plot_gradient_norms
from .step_size import plot_step_size, step_size_study

__all__ = ["main", "backprop", "near_kink_net", "KinkBugReLU", "relu_all_zero"]


# ---------------------------------------------------------------- main
def fmt(x, spec=".1e"):
    return "–" if x is None else format(x, spec)


def check_table_lines(rows):
    table = []
    for r in rows:
        f64, f32 = r["float64"], r["float32"]
        copy = r["float32_on_float64_copy"]
        cs = r["complex_step_vs_backprop"]
        table.append([r["kind"], r["name"], fmt(f64["max_rel_error"]), "yes" if f64["passed"] else "NO",
                      fmt(f32["max_rel_error"]), fmt(f32["max_abs_error"]), "yes" if f32["passed"] else "NO",
                      fmt(copy and copy["max_rel_error"]), fmt(cs and cs["max_rel_error"])])
    return console.format_table(["kind", "component", "f64 max rel", "f64 ok", "f32 max rel", "f32 max abs",
                                 "f32 ok", "f32 net on f64 copy", "complex step"], table)


def main(argv=None):
    args, out, progress = cli.start(cli.parser(
        "python -m experiments.gradients", __doc__.split("\n")[0], data=False,   # Gaussian inputs, no MNIST
        dtype_help="dtype of the depth study (part 5); the checks cover float64 and float32 regardless"), argv)
    with parallel.one_blas_thread():   # small matrices: one thread is faster on a shared machine
        run_all(args, out, progress)


def run_all(args, out, progress):
    dtype = np.dtype(args.dtype).type

    progress("1/6 check table: layers, activations, losses")
    rows = layer_rows(cli.rng_for(args.seed, 1))
    progress("1/6 check table: whole nets (float64, float32, float32 on a float64 copy, complex step)")
    net_table, n_warned = net_rows(cli.rng_for(args.seed, 11), args.quick)
    rows += net_table

    progress("2/6 error vs step size")
    steps = step_size_study(cli.rng_for(args.seed, 2), args.quick)
    plot_step_size(steps, out / "gradcheck_step_size.png")
    f32 = float32_summary(rows, steps)
    f32["precision_warnings"] = n_warned

    progress("3/6 ReLU kinks: naive, skip and subgradient checks on correct and wrong backwards")
    kinks = kink_study(int(cli.rng_for(args.seed, 3).integers(2**32)))

    progress("4/6 activation derivatives")
    act_data, zc, fd, maxima = activation_derivatives()
    plot_activation_derivatives(act_data, zc, fd, out / "activation_derivatives.png")

    progress("5/6 gradient norm through depth")
    depth = depth_study(cli.rng_for(args.seed, 5), args.quick, dtype)
    plot_gradient_norms(depth, out / "gradient_norms.png")

    progress("6/6 ReLU all-zero net")
    zero = relu_all_zero(args.seed)

    tolerances = {d: gradcheck.DEFAULT_TOLERANCE[np.dtype(d)] for d in ("float64", "float32")}
    print("1. Gradient check table (max relative error |g − n| / (|g| + |n|); ok = |g − n| ≤ atol + rtol·|n| + "
          f"round-off with (atol, rtol) = {tolerances['float64']} in float64, {tolerances['float32']} in float32)")
    print(check_table_lines(rows))
    f64_ok = "<" if f32["max_rel_error_float64"] < CS231N_THRESHOLD else "NOT <"
    print(f"   float64: every max relative error ≤ {f32['max_rel_error_float64']:.1e} ({f64_ok} {CS231N_THRESHOLD:g}; "
          "the largest sit on the smallest entries). float32: up to "
          f"{f32['max_rel_error_float32']:.1e} relative, {f32['max_abs_error_float32']:.1e} absolute.")
    print(f"   Why float32 cannot meet 1e-7: {f32['why']}")
    tol = f32["tolerance_float32"]
    print(f"   float32 meets |g − n| ≤ {tol['atol']:g} + {tol['rtol']:g}·|n| {tol['roundoff']}: "
          f"{'all pass' if f32['all_pass_float32'] else 'NOT all pass'}, worst error/allowed "
          f"{f32['worst_ratio_float32']:.2f}. On a float64 copy (PrecisionWarning ×{n_warned}) the float32 nets "
          f"reach {f32['max_rel_error_float32_on_float64_copy']:.1e}.")
    print()
    print("2. Error vs step size (float64 unless noted): best h, best error, fitted slopes")
    step_rows = []
    for key, c in steps["curves"].items():
        step_rows.append([key, f"{c['best_h']:.0e}", f"{c['best_error']:.1e}", fmt(c.get("theory_best_h")),
                          fmt(c.get("truncation_slope"), ".2f"), fmt(c.get("roundoff_slope"), ".2f")])
    print(console.format_table(["scheme", "best h", "error there", "ε^(1/(p+1))", "truncation slope",
                                "round-off slope"], step_rows))
    print()
    print(f"3. ReLU kinks: {kinks['placed']['exact_zeros']} pre-activations exactly 0 and "
          f"{kinks['placed']['within_h_nonzero']} more within h = 1e-3 of 0")
    kink_rows = [[r["variant"], r["mode"], "PASS" if r["passed"] else "FAIL",
                  "right" if r["verdict_right"] else "WRONG", f"{r['n_kink']}/{r['n_coords']}",
                  r["n_resolved"], r["n_at_kink"], r["n_skipped"], f"{r['n_failures']}+{r['n_kink_failures']}",
                  fmt(r["max_rel_error"])] for r in kinks["rows"]]
    print(console.format_table(["backward", "kinks", "check", "check right?", "kink coords", "resolved", "at kink",
                                "skipped", "failures", "max rel (smooth)"], kink_rows))
    f = kinks["float32_net"]
    print(f"   float32 net: checked in {f['checked_in']} with a PrecisionWarning, "
          f"{'passed' if f['passed'] else 'FAILED'}, net unchanged: {f['net_unchanged']}")
    print()
    print(f"4. Activation derivatives: max σ' = {maxima['sigmoid']['max_derivative']:.4f} at z = "
          f"{maxima['sigmoid']['at_z']:g}; max tanh' = {maxima['tanh']['max_derivative']:.4f} at z = "
          f"{maxima['tanh']['at_z']:g}; relu'(0) = {maxima['relu']['derivative_at_0']:g} by convention "
          f"(central difference there: {maxima['relu']['central_difference_at_0']:g})")
    print()
    print(f"5. ‖dW_l‖ at initialization, {depth['hidden_layers']} hidden layers of {depth['width']}, batch "
          f"{depth['batch']}, {len(depth['seeds'])} seeds ({depth['dtype']})")
    print(console.format_table(
        ["activation", "init", "‖dW_1‖", "‖dW_out‖", "first/last", "verdict", "max |log10 meas/pred|"],
        [[r["activation"], r["init"], f"{r['measured'][0]:.1e}", f"{r['measured'][-1]:.1e}",
          f"{r['first_over_last']:.1e}", r["verdict"], f"{r['max_log10_measured_over_predicted']:.2f}"]
         for r in depth["results"]]))
    print()
    print(f"6. ReLU all-zero net {zero['sizes']}: L1 of all gradients = {zero['l1_all']:.6g}, L1 of the output "
          f"bias gradient = {zero['l1_output_bias']:.6g} (equal: {zero['l1_all'] == zero['l1_output_bias']}); "
          f"exactly zero: {', '.join(zero['zero_gradients'])}; gradient check "
          f"{'passed' if zero['gradcheck_passed'] else 'FAILED'} ({zero['gradcheck_n_kink']} kink coordinates)")

    result = {
        "experiment": "gradients",
        "config": {"seed": args.seed, "quick": args.quick, "dtype_depth_study": depth["dtype"],
                   "tolerance": {k.name: v for k, v in gradcheck.DEFAULT_TOLERANCE.items()},
                   "default_step": {f"{d.name} order {o}": h for (d, o), h in gradcheck.DEFAULT_STEP.items()}},
        "check_table": rows,
        "float32": f32,
        "step_size": steps,
        "relu_kink": kinks,
        "activation_derivatives": maxima,
        "gradient_norms": depth,
        "relu_all_zero": zero,
    }
    outputs.write_json(out / "gradients.json", result)
    progress(f"wrote {out}/gradients.json, gradcheck_step_size.png, activation_derivatives.png, gradient_norms.png")
