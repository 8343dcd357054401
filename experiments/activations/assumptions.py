"""Part 3: where the variance argument's assumptions fail: after training, with a bias, at finite width."""
import math

import numpy as np

import npnet

from .. import _cli as cli
from .layers import mean_sq, net_layers, strip_hist


TRAIN_SIZES = [784, 100, 100, 100, 100, 100, 10]
TRAIN_LR, TRAIN_BATCH = 0.05, 100
BIAS_SHIFTS = (0.0, 0.25, 0.5, 1.0)        # constant bias, in units of the SD of u = x·w
TRAINED_RISE = 0.5   # ≈ 6 SD of the rise's spread without any training effect (two draws of the first layer's
                     # init scatter, SD ≈ 0.056 each, at width 100)


def training_study(data, epochs, seed, dtype, probe, progress):
    """Part 3 (a, b): the ratio measured/predicted per layer of a ReLU/He net before and after each SGD epoch."""
    rng = cli.rng_for(seed, 2)
    net = npnet.mlp(TRAIN_SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    per_epoch = [{"epoch": 0, "test_acc": npnet.evaluate(net, data.X_test, data.y_test)["accuracy"],
                  "layers": strip_hist(net_layers(net, probe))}]

    def on_epoch(epoch, net, history):
        per_epoch.append({"epoch": epoch, "test_acc": history["test_acc"][-1],
                          "layers": strip_hist(net_layers(net, probe))})
        ratios = ", ".join(f"{r['ratio']:.2f}" for r in per_epoch[-1]["layers"])
        progress(f"training: epoch {epoch}, test acc {history['test_acc'][-1]:.3f}, measured/predicted {ratios}")

    npnet.train(net, data.X_train, data.y_train, optimizer=npnet.SGD(net, lr=TRAIN_LR), epochs=epochs,
                batch_size=TRAIN_BATCH, rng=rng, X_test=data.X_test, y_test=data.y_test, eval_train=False,
                on_epoch=on_epoch)
    return {"sizes": TRAIN_SIZES, "lr": TRAIN_LR, "batch_size": TRAIN_BATCH, "init": "he_normal",
            "per_epoch": per_epoch}


def relu_factor_gaussian(beta):
    """g = E[relu(z)²] / E[z²] for Gaussian z with mean β·s and SD s: (Φ(β)(1 + β²) + βφ(β)) / (1 + β²).

    At β = 0 it is 1/2, He's factor; a bias (β > 0) moves it toward 1.
    """
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    Phi = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    return (Phi * (1 + beta * beta) + beta * phi) / (1 + beta * beta)


BIAS_WIDTH, BIAS_SEEDS = 2048, 4   # wide layers over a few seeds: the scatter of g is then ~0.01


def bias_study(X, seed, dtype):
    """Part 3 (c): ReLU's g for z = u + β·SD(u), He layers of BIAS_WIDTH units on the batch X, mean over seeds."""
    rng = cli.rng_for(seed, 3)
    us = []
    for _ in range(BIAS_SEEDS):
        net = npnet.mlp([X.shape[1], BIAS_WIDTH, 10], "relu", "he_normal", rng=rng, dtype=dtype)
        with np.errstate(under="ignore"):
            net.forward(X)
        us.append(np.asarray(net.preactivations[0], dtype=np.float64))   # u: the bias is 0 at init
    out = []
    for beta in BIAS_SHIFTS:
        gs = []
        for u in us:
            z = u + beta * math.sqrt(mean_sq(u))
            gs.append(mean_sq(np.maximum(z, 0.0)) / mean_sq(z))
        out.append({"bias_over_sd_u": beta, "g": float(np.mean(gs)), "g_per_seed": gs,
                    "g_gaussian": relu_factor_gaussian(beta)})
    return {"width": BIAS_WIDTH, "seeds": BIAS_SEEDS, "rows": out}


def width_study(X, widths, n_seeds, depth, seed, dtype):
    """Part 3 (finite width): per-layer ratio measured/predicted and ReLU's g over seeds, ReLU/He, vs width.

    Hidden layers 2… only (their fan-in is the width; layer 1's is the 784 pixels). The argument predicts the
    expectations (ratio 1, g 1/2: checked with arithmetic means over seeds and layers); one net scatters around
    them by ~1/√width.
    """
    seeds = [int(s) for s in cli.rng_for(seed, 4).integers(2**32, size=n_seeds)]
    out = []
    for width in widths:
        ratios, gs = [], []
        for s in seeds:
            net = npnet.mlp([X.shape[1]] + [width] * depth + [10], "relu", "he_normal",
                            rng=np.random.default_rng(s), dtype=dtype)
            rows = net_layers(net, X)[1:]
            ratios += [r["ratio"] for r in rows]
            gs += [r["g"] for r in rows]
        out.append({"width": width, "n": len(ratios), "mean_ratio": float(np.mean(ratios)),
                    "se_mean_ratio": float(np.std(ratios, ddof=1) / math.sqrt(len(ratios))),
                    "sd_log_ratio": float(np.std(np.log(ratios), ddof=1)),
                    "mean_g": float(np.mean(gs)), "se_mean_g": float(np.std(gs, ddof=1) / math.sqrt(len(gs))),
                    "sd_g": float(np.std(gs, ddof=1))})
    slope = float(np.polyfit(np.log([r["width"] for r in out]), np.log([r["sd_log_ratio"] for r in out]), 1)[0])
    return {"depth": depth, "seeds": seeds, "activation": "relu", "init": "he_normal", "rows": out,
            "slope_log_sd_vs_log_width": slope}
