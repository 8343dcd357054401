"""Forward vs backward scaling (He et al. 2015, eqs. 10 and 14) on a ReLU net whose widths change.

Scaling by fan_in (½·n_l·Var w_l = 1, eq. 10) keeps the forward E[z²] constant; the backward signal then changes
by Π n̂_k/n_k over the layers it crosses, which telescopes to a ratio of two widths. Scaling by fan_out
(½·n̂_l·Var w_l = 1, eq. 14) keeps the backward signal constant and the forward one changes by the width ratios.
Neither explodes nor vanishes exponentially: the paper's point that either direction is enough.

Measured at initialization, in float64: a batch of MNIST images forward (E[z_l²] per Dense layer), and a unit
Gaussian ∂L/∂logits backward (E[(∂L/∂x_l)²] at the input x_l of every Dense layer: a loss-free backward signal).
"""
import numpy as np

import npnet

#: the varying-width net: 784 → 1024 → 256 → 512 → 128 → 1024 → 64 → 10 (ReLU between)
WIDTHS = [784, 1024, 256, 512, 128, 1024, 64, 10]
MODES = {"fan_in (eq. 10)": "fan_in", "fan_out (eq. 14)": "fan_out"}


def measure(mode, seed, X):
    """(forward E[z_l²] for l = 1 … L, backward E[(∂L/∂x_l)²] for l = 1 … L) of one draw."""
    net = npnet.mlp(WIDTHS, "relu", ("he_normal", {"mode": mode}), rng=np.random.default_rng([seed, 0]))
    net.forward(X)
    forward = [float(np.mean(z * z)) for z in net.preactivations]
    dout = np.random.default_rng([seed, 1]).standard_normal((X.shape[0], WIDTHS[-1]))
    backward = []
    grad = dout
    for layer in reversed(net.layers):           # by hand, to read ∂L/∂x at every Dense layer's input
        grad = layer.backward(grad)
        if isinstance(layer, npnet.Dense):
            backward.append(float(np.mean(grad * grad)))
    return forward, backward[::-1]


def predicted(mode):
    """Mean-field ratios: forward E[z_l²]/E[z_1²] and backward E[(∂L/∂x_l)²]/E[(∂L/∂x_L)²].

    Layer k has fan-in n_k = WIDTHS[k−1], fan-out n̂_k = WIDTHS[k], Var w_k = 2/n_k (fan_in) or 2/n̂_k (fan_out).
    Forward, for k ≥ 2: E[z_k²] = n_k Var w_k · ½ E[z_{k−1}²]. Backward: E[(∂/∂x_k)²] = n̂_k Var w_k · ½ ·
    E[(∂/∂x_{k+1})²] for k < L (the ReLU after layer k passes half), and the last layer has no ReLU after it."""
    n_in, n_out = WIDTHS[:-1], WIDTHS[1:]
    L = len(n_in)
    var = [2.0 / (n_in[k] if mode == "fan_in" else n_out[k]) for k in range(L)]
    fwd = [1.0]
    for k in range(1, L):
        fwd.append(fwd[-1] * n_in[k] * var[k] / 2.0)
    bwd = [1.0]
    for k in range(L - 2, -1, -1):
        bwd.append(bwd[-1] * n_out[k] * var[k] / 2.0)
    return fwd, bwd[::-1]


def scaling_study(seeds, X):
    out = {"widths": WIDTHS}
    for label, mode in MODES.items():
        runs = [measure(mode, s, X) for s in seeds]
        fwd = np.array([r[0] for r in runs])
        bwd = np.array([r[1] for r in runs])
        fwd_rel = fwd / fwd[:, :1]
        bwd_rel = bwd / bwd[:, -1:]
        pf, pb = predicted(mode)
        out[label] = {"mode": mode, "seeds": len(seeds),
                      "forward_rel": {"mean": fwd_rel.mean(0).tolist(), "min": fwd_rel.min(0).tolist(),
                                      "max": fwd_rel.max(0).tolist()},
                      "backward_rel": {"mean": bwd_rel.mean(0).tolist(), "min": bwd_rel.min(0).tolist(),
                                       "max": bwd_rel.max(0).tolist()},
                      "predicted_forward_rel": pf, "predicted_backward_rel": pb,
                      "forward_last_over_first": float(fwd_rel.mean(0)[-1]),
                      "backward_first_over_last": float(bwd_rel.mean(0)[0]),
                      "predicted_forward_last_over_first": pf[-1],
                      "predicted_backward_first_over_last": pb[0]}
    return out
