"""Figs. 6, 7 and 8 of Glorot & Bengio (2010): at initialization, tanh, standard vs normalized init — per hidden
layer the activations, the back-propagated gradients ∂L/∂z_l and the weight gradients ∂L/∂W_l, with the mean-field
prediction of each layer's variance.

Mean field (npnet.meanfield, widths large): forward E[z_l²] = σ_w,l² E[tanh(z_{l−1})²] with σ_w,l² = n_in·Var w
(standard: 1/3 at every layer, since U[±1/√n] has variance 1/(3n); normalized: 2·n_in/(n_in + n_out), 1 between
two 1,000-wide layers), so Var(a_l) = E[tanh(√q_l z)²]. Backward, from the measured ∂L/∂logits:
E[δ_l²] = n_out·Var w_{l+1} · E[δ_{l+1}²] · E[tanh'(z_l)²]. A weight gradient ∂L/∂W_l = δ_lᵀ a_{l−1} then has
E[(∂L/∂W_l)²] ∝ E[δ_l²]·E[a_{l−1}²]: with standard init the first factor shrinks going down and the second
shrinks going up, by about the same 1/3 per layer, so their product — Fig. 8 — stays nearly level.
"""
import numpy as np

import npnet
from npnet import meanfield

from .training import INIT_SPECS, build

BINS = 61


def measure(init, width, seed, X, y):
    """One draw: per hidden layer the activations, δ_l = ∂L/∂z_l and ∂L/∂W_l (arrays), and ∂L/∂logits."""
    net = build("tanh", init, width, seed)
    loss = npnet.SoftmaxCrossEntropy()
    loss.forward(net.forward(X), y)
    dlogits = loss.backward()
    acts = [a.copy() for a in net.outputs[:-1]]
    deltas, grad = [], dlogits
    for layer in reversed(net.layers):           # by hand, to keep δ_l = ∂L/∂z_l of every hidden layer
        grad = layer.backward(grad)
        if isinstance(layer, npnet.Activation):
            deltas.append(grad.copy())
    deltas = deltas[::-1]
    wgrads = [d.dW.copy() for d in net.dense[:-1]]
    weights = [d.W for d in net.dense]
    return acts, deltas, wgrads, dlogits, weights


def sigma_w2(init, n_in, n_out):
    return 1.0 / 3.0 if init == "standard" else 2.0 * n_in / (n_in + n_out)


def predicted(init, width, X, dlogits_sq):
    """Mean-field Var(a_l), E[δ_l²] and E[δ_l²]·E[a_{l−1}²] for the 5 hidden layers."""
    widths = [784] + [width] * 5 + [10]
    q1 = sigma_w2(init, 784, width) * np.mean(X * X)            # E[x²] per pixel, not centred (see npnet.meanfield)
    qs = meanfield.q_profile(q1, "tanh", [sigma_w2(init, widths[k], widths[k + 1]) for k in range(1, 5)])
    var_a = [float(meanfield.expect(lambda u: np.tanh(u) ** 2, q)) for q in qs]
    d2 = [float(meanfield.expect(lambda u: (1 - np.tanh(u) ** 2) ** 2, q)) for q in qs]    # E[tanh'(z_l)²]
    delta = [0.0] * 5
    upstream = dlogits_sq
    for k in range(4, -1, -1):                                    # hidden layer k+1 (1-based), from the top
        n_out = widths[k + 2]
        var_w = sigma_w2(init, widths[k + 1], n_out) / widths[k + 1]
        delta[k] = n_out * var_w * upstream * d2[k]
        upstream = delta[k]
    a_prev = [float(np.mean(X * X))] + var_a[:-1]                 # E[a_{l−1}²]: the pixels for layer 1
    return {"var_a": var_a, "delta_sq": delta, "delta_sq_times_a_prev_sq": [d * a for d, a in zip(delta, a_prev)]}


def histogram_study(width, seeds, X, y):
    """Per init: histograms (first seed), per-layer variances (bands over seeds) and mean-field predictions."""
    out = {"width": width, "images": len(X), "seeds": len(seeds), "init_specs": INIT_SPECS}
    for init in ("standard", "normalized"):
        draws = [measure(init, width, s, X, y) for s in seeds]
        acts, deltas, wgrads, dlogits, _ = draws[0]
        per = {}
        for key, idx in (("activations", 0), ("backprop_gradients", 1), ("weight_gradients", 2)):
            var = np.array([[float(np.var(t)) for t in d[idx]] for d in draws])
            first = draws[0][idx]
            lim = max(float(np.percentile(np.abs(t), 99.5)) for t in first)
            edges = np.linspace(-lim, lim, BINS + 1)
            per[key] = {"var": {"mean": var.mean(0).tolist(), "min": var.min(0).tolist(), "max": var.max(0).tolist()},
                        "hist_edges": edges.tolist(),
                        "hist_density": [np.histogram(t, bins=edges, density=True)[0].tolist() for t in first],
                        "max_over_min_var": float(var.mean(0).max() / var.mean(0).min()),
                        "top_over_bottom_var": float(var.mean(0)[-1] / var.mean(0)[0])}
        dl2 = float(np.mean([np.mean(d[3] ** 2) for d in draws]))
        pred = predicted(init, width, X, dl2)
        per["predicted"] = pred
        per["activations"]["predicted_var"] = pred["var_a"]
        per["backprop_gradients"]["predicted_var"] = pred["delta_sq"]
        prod = np.asarray(pred["delta_sq_times_a_prev_sq"])
        scale = per["weight_gradients"]["var"]["mean"][0] / prod[0]   # the batch's correlations set the level:
        per["weight_gradients"]["predicted_var"] = (prod * scale).tolist()   # only the trend is predicted
        per["weight_gradients"]["predicted_note"] = "E[δ_l²]·E[a_{l−1}²], scaled to the measured layer 1"
        out[init] = per
    return out
