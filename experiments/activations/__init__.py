"""Forward activations through depth: how Xavier and He keep them alive, and the variance argument tested per layer.

Run:  python -m experiments.activations            (full run, ~12 s on 2 cores)
      python -m experiments.activations --quick    (seconds; same files, to figures/quick/)

The input is a batch of real MNIST test images, pixels in [0, 1] as every experiment here trains on them (so the
inputs do not have mean 0, which is one of the points). docs/BACKPROP.md section 6 derives what is tested here.
  1. Depth: a net of 10 hidden layers of width 500 with tanh, relu or sigmoid, under N(0, 0.01²), N(0, 1), Xavier
     and He (normal; the four inits of experiments.gradients), at initialization. Per layer, the RMS of z and of
     a = f(z), the share of saturated or zero outputs, and histograms of a → activation_depth.png and
     activation_histograms.png.
  2. The variance argument, E[u²] = n · E[w²] · E[x²] for u = x·w (the pre-activation without its bias), per layer
     of every net of part 1: measured over predicted, with E[w²] and E[x²] measured on the very layer and input.
     The same prediction with Var(x) in place of E[x²] (the slip the derivation warns about), and the activation's
     factor g = E[f(z)²] / E[z²] that carries the second moment to the next layer. He's 1/2 is g for ReLU, and
     Xavier's "close to the identity" is g ≈ 1 for tanh → variance_argument.png.
  3. Where the assumptions fail. (a, b) Training correlates weights with each other and with their inputs: the
     same ratio on a 784-5×100-10 ReLU net (He) after each epoch of SGD on MNIST. (c) A nonzero bias makes z
     asymmetric, and g moves off 1/2. (finite width) The argument is about the distribution of the weights. One
     net's per-layer ratio scatters around 1, and the scatter over seeds shrinks like 1/√width.

The code is split by part: ``layers`` (1, 2: the nets at initialization, layer by layer), ``assumptions`` (3) and
``plots``; this module checks the claims, prints the table and writes the outputs.
"""
import numpy as np

from .. import _cli as cli, _console as console, _outputs as outputs
from .assumptions import TRAINED_RISE, bias_study, training_study, width_study
from .layers import ACTS, DEPTH, INITS, depth_study
from .plots import plot_depth, plot_histograms, plot_variance_argument


def checks_of(depth, training, bias, width):
    """The claims of docs/BACKPROP.md section 6, each with the measured numbers and whether they confirm it.

    The argument is about expectations over the weights' draw, so its checks use means over seeds and layers,
    within 4 standard errors; one net's per-layer values scatter by ~1/√width (the last check).
    """
    rows = width["rows"]
    var_x = {act: float(np.median([r["ratio_with_var_x"] for res in depth if res["activation"] == act
                                   for r in res["layers"][1:]])) for act in ACTS}   # inputs = f's outputs
    init_layers, trained = training["per_epoch"][0]["layers"], training["per_epoch"][-1]["layers"]
    rise = trained[0]["ratio"] - init_layers[0]["ratio"]
    g_diff = [abs(r["g"] - r["g_gaussian"]) for r in bias["rows"]]
    slope = width["slope_log_sd_vs_log_width"]
    return {
        "variance_argument": {
            "claim": "at initialization E[u²] = n·E[w²]·E[x²] in expectation: the mean of measured/predicted over "
                     "seeds and layers is 1 within 4 standard errors at every width",
            "mean_ratio_per_width": {r["width"]: r["mean_ratio"] for r in rows},
            "single_net_max_abs_ratio_minus_1": max(abs(r["ratio"] - 1) for res in depth for r in res["layers"]),
            "confirmed": all(abs(r["mean_ratio"] - 1) <= 4 * r["se_mean_ratio"] for r in rows)},
        "relu_keeps_half": {
            "claim": "ReLU keeps half the second moment at init (He's factor): the mean of g = E[relu(z)²]/E[z²] "
                     "over seeds and layers is 1/2 within 4 standard errors at every width",
            "mean_g_per_width": {r["width"]: r["mean_g"] for r in rows},
            "confirmed": all(abs(r["mean_g"] - 0.5) <= 4 * r["se_mean_g"] for r in rows)},
        "E_x2_not_Var_x": {
            "claim": "with Var(x) in place of E[x²] the prediction is too small (median ratio > 1.1 over layers "
                     "2…) wherever the inputs have a nonzero mean: ReLU and sigmoid outputs",
            "median_ratio_with_var_x": var_x,
            "confirmed": var_x["relu"] > 1.1 and var_x["sigmoid"] > 1.1},
        "training_breaks_independence": {
            "claim": "training lines the weights up with their inputs: the first layer's measured/predicted, whose "
                     f"inputs (the pixels) have the most structure, rises by more than {TRAINED_RISE} (≈ 6 SD of "
                     "its scatter at init)",
            "ratio_per_layer_at_init": [r["ratio"] for r in init_layers],
            "ratio_per_layer_after_training": [r["ratio"] for r in trained], "first_layer_rise": rise,
            "confirmed": rise > TRAINED_RISE},
        "bias_moves_relu_factor": {
            "claim": "a bias β·SD(u) makes z asymmetric, and ReLU's g leaves 1/2 as the Gaussian formula "
                     "(Φ(β)(1 + β²) + βφ(β)) / (1 + β²) predicts (within 0.03)",
            "g_measured_vs_gaussian": [[r["bias_over_sd_u"], r["g"], r["g_gaussian"]] for r in bias["rows"]],
            "confirmed": max(g_diff) <= 0.03},
        "finite_width_scatter": {
            "claim": "one net scatters around the expectation by ~1/√width: the log-log slope of the scatter of "
                     "log(measured/predicted) against width lies in [−0.75, −0.25]",
            "sd_log_ratio_per_width": {r["width"]: r["sd_log_ratio"] for r in rows}, "slope": slope,
            "confirmed": -0.75 <= slope <= -0.25},
    }


def main(argv=None):
    args, out, progress = cli.start(cli.parser("python -m experiments.activations", __doc__.split("\n")[0],
                                                     epochs=5, quick_epochs=2), argv)
    dtype = np.dtype(args.dtype).type
    if args.quick:
        width, n_probe, n_train, n_test, widths, n_seeds = 128, 200, 3_000, 500, (16, 64, 256), 4
    else:
        width, n_probe, n_train, n_test, widths, n_seeds = 500, 1_000, 8_000, 2_000, (16, 64, 256, 1024), 8
    progress(f"loading MNIST ({n_train}/{n_test} requested)")
    data = cli.load_mnist(args, n_train, n_test, dtype=dtype)
    probe = data.X_test[:n_probe]
    progress(f"data: {data.source}; probe batch: the first {len(probe)} test images")

    depth = depth_study(probe, width, args.seed, dtype, progress)
    training = training_study(data, args.epochs, args.seed, dtype, probe, progress)
    bias = bias_study(probe, args.seed, dtype)
    width_res = width_study(probe, widths, n_seeds, 5, args.seed, dtype)
    progress("finite width: " + ", ".join(f"{r['width']}: SD {r['sd_log_ratio']:.3f}" for r in width_res["rows"]))
    checks = checks_of(depth, training, bias, width_res)

    print()
    print(f"data: {data.source}")
    table = []
    for res in depth:
        first, mid, last = res["layers"][0], res["layers"][len(res["layers"]) // 2 - 1], res["layers"][-1]
        table.append([res["activation"], res["init"], f"{first['rms_z']:.2g}", f"{mid['rms_z']:.2g}",
                      f"{last['rms_z']:.2g}", f"{last['g']:.2f}", f"{last['signal_share']:.2g}",
                      f"{max(abs(r['ratio'] - 1) for r in res['layers']):.3f}", res["verdict"]])
    print(console.format_table(["activation", "init", "RMS z L1", f"L{DEPTH // 2}", f"L{DEPTH}", "g L10",
                                "input share L10", "max |ratio−1|", "verdict"], table))
    print()
    console.print_checks(checks)

    plot_depth(depth, width, out / "activation_depth.png")
    plot_histograms(depth, out / "activation_histograms.png")
    plot_variance_argument(depth, training, bias, width_res, out / "variance_argument.png")
    outputs.write_json(out / "activations.json", {
        "experiment": "activations", "data": data.info,
        "config": {"seed": args.seed, "quick": args.quick, "dtype": np.dtype(dtype).name, "width": width,
                   "hidden_layers": DEPTH, "probe": f"first {len(probe)} test images", "epochs": args.epochs,
                   "inits": {label: str(spec) for label, spec in INITS.items()}},
        "depth": [{**res, "layers": res["layers"]} for res in depth],
        "training": training, "bias": bias, "width": width_res, "checks": checks,
    })
    progress(f"wrote {out}/activation_depth.png, activation_histograms.png, variance_argument.png, activations.json")
