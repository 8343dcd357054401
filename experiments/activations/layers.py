"""Parts 1 and 2: nets of 10 hidden layers at initialization under four inits, measured layer by layer against the
variance argument E[u²] = n·E[w²]·E[x²] and mean-field theory."""
import math

import numpy as np

import npnet
from npnet import activations, meanfield, probes
from npnet import init as npinit


ACTS = ("tanh", "relu", "sigmoid")
INITS = {label: spec for label, (spec, _) in npinit.DEPTH_INITS.items()}   # same four inits as the gradient study
DEPTH = 10
HIST_LAYERS = (1, 4, 7, 10)                # histograms of these hidden layers (1 = next to the input)
HIST_CASES = (("tanh", "N(0, 0.01²)"), ("tanh", "N(0, 1)"), ("tanh", "Xavier"), ("relu", "Xavier"), ("relu", "He"),
              ("sigmoid", "Xavier"))


def mean_sq(x):
    """E[x²] over every entry, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x))


def layer_moments(layer, x, z):
    """The variance argument's numbers for one Dense layer with input x (B, n) and pre-activation z (B, m).

    u = z − b is the weights' part of z. Returns E[u²] measured, n·E[w²]·E[x²] predicted, and the same prediction
    with the pooled Var(x) in place of E[x²]; the ratios measured/predicted of both.
    """
    x64 = np.asarray(x, dtype=np.float64)
    u = np.asarray(z, dtype=np.float64) - layer.b
    n = layer.in_features
    w2, x2, var_x = mean_sq(layer.W), mean_sq(x64), float(x64.var())
    predicted, predicted_var = n * w2 * x2, n * w2 * var_x
    measured = mean_sq(u)
    return {"E_u2": measured, "E_w2": w2, "E_x2": x2, "Var_x": var_x, "mean_x": float(x64.mean()),
            "predicted": predicted, "ratio": measured / predicted if predicted else None,
            "ratio_with_var_x": measured / predicted_var if predicted_var else None}


def net_layers(net, X):
    """Forward ``X`` and return, per hidden layer (1 = next to the input), its moments and activation statistics."""
    act_names = [layer.name for layer in net.layers if isinstance(layer, npnet.Activation)]
    with np.errstate(over="ignore", under="ignore"):
        net.forward(X)
    inputs = [X] + net.outputs[:-1]
    rows = []
    for k, name in enumerate(act_names):
        z, a = net.preactivations[k], net.outputs[k]
        z64 = np.asarray(z, dtype=np.float64)
        ez2 = mean_sq(z64)
        signal = float(np.mean(z64.var(axis=0)))   # the part of E[z²] that varies with the input: Var over the batch
        hist_range = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(name)
        stats = probes.tensor_stats(a, saturated=activations.saturated(name, a), bins=40, hist_range=hist_range)
        rows.append({
            "layer": k + 1, **layer_moments(net.dense[k], inputs[k], z64),
            "rms_z": math.sqrt(ez2), "rms_a": math.sqrt(stats["mean_sq"]), "mean_a": stats["mean"],
            "std_a": stats["std"], "signal_share": signal / ez2 if ez2 else None,
            "g": stats["mean_sq"] / ez2 if ez2 else None,     # E[f(z)²] / E[z²]
            "frac_saturated": stats["frac_saturated"], "frac_zero": stats["frac_zero"],
            "hist_counts": stats["hist_counts"], "hist_edges": stats["hist_edges"],
        })
    return rows


def verdict(act, rows):
    """A short word on what the forward signal does from the first hidden layer to the last."""
    first, last = rows[0], rows[-1]
    if act in ("tanh", "sigmoid") and last["frac_saturated"] > 0.5:
        return "saturated: most outputs at the flat ends of f"
    factor = last["rms_z"] / first["rms_z"]
    word = ("vanishing" if factor < 1e-3 else "shrinking" if factor < 0.2 else
            "exploding" if factor > 1e3 else "growing" if factor > 5 else "steady")
    text = f"{word} (RMS of z ×{factor:.2g} from layer 1 to {last['layer']})"
    if last["signal_share"] < 1e-3 * first["signal_share"]:   # z's size survives, what it says about x does not
        text += f", but the input is lost (input share {first['signal_share']:.2g} → {last['signal_share']:.1g})"
    return text


def depth_study(X, width, seed, dtype, progress):
    """Part 1 and 2: every (activation, init) net at initialization, per-layer statistics on the batch X.

    Every net draws from ``default_rng(seed)``: the same normals, scaled per init (common random numbers), so the
    nets differ only by what is being compared, and their per-layer scatter is one sample, not twelve.
    """
    results = []
    sizes = [X.shape[1]] + [width] * DEPTH + [10]
    for act in ACTS:
        for label, spec in INITS.items():
            net = npnet.mlp(sizes, act, spec, rng=np.random.default_rng(seed), dtype=dtype)
            rows = net_layers(net, X)
            for row, q in zip(rows, mean_field_Ez2(X, width, act, label)):
                row.update(Ez2_theory=q, Ez2_over_theory=row["rms_z"] ** 2 / q)
            results.append({"activation": act, "init": label, "verdict": verdict(act, rows), "layers": rows})
            progress(f"depth: {act:7s} {label:12s} {results[-1]['verdict']}")
    return results


def mean_field_Ez2(X, width, act, label):
    """Mean-field E[z²] of hidden layers 1 … DEPTH (npnet.meanfield): each image's q₁ = Var(w)·Σ_j x_j² (E[x²],
    not Var: the pixels are not centred), carried through the length map, then averaged over the images."""
    var_w = npinit.DEPTH_INITS[label][1]
    q1 = var_w(X.shape[1], width) * np.sum(np.asarray(X, dtype=np.float64) ** 2, axis=1)
    return meanfield.q_profile(q1, act, [width * var_w(width, width)] * (DEPTH - 1)).mean(axis=1).tolist()


def strip_hist(rows):
    return [{k: v for k, v in r.items() if not k.startswith("hist_")} for r in rows]
