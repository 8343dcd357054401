"""Probes: statistics of activations, gradients and weights that the experiments share.

``tensor_stats`` summarises one array; ``layer_stats`` does so for every layer of a network after a forward and
backward; ``row_spread``, ``distinct_rows`` and ``unit_variance`` measure how far a layer's units are from
being copies of each other (the symmetry problem); ``changed_parameters`` names the parameters training moved.
"""
import numpy as np

from . import _validate, activations, losses
from .network import require_network

HIST_BYTES_PER_BIN = 100   # edges and counts as arrays, then as JSON-ready lists of Python numbers


def tensor_stats(x, *, saturated=None, bins=30, hist_range=None):
    """Summary of an array as plain floats (JSON-ready).

    Returns a dict with mean, std, mean_sq (E[x²], the quantity the Xavier/He variance argument propagates),
    frac_zero (exact zeros: dead ReLUs, all-zero layers), frac_saturated (share of ``saturated`` mask, or None),
    frac_nonfinite (NaN/inf, e.g. after divergence; the other statistics then cover the finite entries),
    hist_counts and hist_edges (``bins`` bins over ``hist_range`` or the data's range). ``saturated`` is None or a
    boolean mask of x's shape (``activations.saturated`` gives one).

    Raises ValueError for an empty array or one with no finite entry: there is nothing to summarise.
    """
    x = _real_array("x", x)
    if x.size == 0:
        raise ValueError("x is empty: tensor_stats needs at least one value")
    bins = _validate.positive_int("bins", bins)
    _validate.allocatable(f"tensor_stats with bins={bins:,} (a histogram of that many bins)", bins * HIST_BYTES_PER_BIN)
    if saturated is not None:
        saturated = np.asarray(saturated)
        if saturated.dtype != bool or saturated.shape != x.shape:
            raise TypeError(f"saturated must be None or a boolean mask of x's shape {x.shape}, got "
                            f"{saturated.dtype} of shape {saturated.shape}")
    finite = np.isfinite(x)
    frac_nonfinite = float(1.0 - np.count_nonzero(finite) / x.size)
    if frac_nonfinite:
        if not finite.any():
            raise ValueError(f"x has no finite entry ({x.size} NaN/inf values): nothing to summarise")
        x = x[finite]
    counts, edges = np.histogram(x, bins=bins, range=hist_range)
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        "mean_sq": float(np.mean(x * x)),
        "frac_zero": float(np.count_nonzero(x == 0) / x.size),
        "frac_saturated": None if saturated is None else float(np.count_nonzero(saturated) / np.size(saturated)),
        "frac_nonfinite": frac_nonfinite,
        "hist_counts": counts.tolist(),
        "hist_edges": edges.tolist(),
    }


def layer_stats(net, *, bins=30, tol=0.01):
    """Per Dense layer (fc1, fc2, …): stats of Z, of A = f(Z), of W, and of dW and db.

    Call after ``net.forward`` (and ``net.backward`` for the gradient entries, which otherwise describe
    whatever the last backward left). Saturation uses ``activations.saturated(name, a, tol)``.
    """
    require_network(net)
    tol = _validate.in_interval("tol", tol, 0.0, 1.0)
    act_names = {}
    k = -1
    for layer in net.layers:
        if layer in net.dense:
            k += 1
        elif k >= 0:
            act_names[k] = layer.name
    out = []
    for k, layer in enumerate(net.dense):
        z, a = net.preactivations[k], net.outputs[k]
        if z is None:
            raise RuntimeError("layer_stats needs a forward pass first")
        name = act_names.get(k, "identity")
        out.append({
            "layer": f"fc{k + 1}",
            "activation": name,
            "preactivation": tensor_stats(z, bins=bins),
            "output": tensor_stats(a, saturated=activations.saturated(name, a, tol), bins=bins),
            "W": tensor_stats(layer.W, bins=bins),
            "grad_W": tensor_stats(layer.dW, bins=bins),
            "grad_b": tensor_stats(layer.db, bins=bins),
        })
    return out


def gradients_at(net, X, y, loss="softmax_cross_entropy"):
    """One forward and backward on (X, y); summary of the gradients as plain values (JSON-ready).

    Returns l1_all (Σ |g| over every parameter), l1_output_bias (Σ |db| of the last layer) and zero_gradients
    (names of the parameters whose gradient is exactly 0 everywhere). In an all-zero ReLU or tanh net the first
    two are equal and every other gradient is exactly 0.
    """
    require_network(net)
    loss_fn = losses.get(loss)
    loss_fn.forward(net.forward(X), y)
    net.backward(loss_fn.backward(), need_dX=False)
    grads = {p.name: p.grad for p in net.parameters()}
    return {
        "l1_all": float(sum(np.abs(g).sum() for g in grads.values())),
        "l1_output_bias": float(np.abs(grads[f"fc{len(net.dense)}.b"]).sum()),
        "zero_gradients": [name for name, g in grads.items() if not np.any(g)],
    }


def row_spread(W):
    """max_i max_j |W[i, j] − W[0, j]|: how far the units' weight rows are from unit 0's (0.0 = all equal).

    W is (units, inputs) with at least one unit and one input (ValueError otherwise)."""
    W = _matrix("W", W)
    return float(np.max(np.abs(W - W[0])))


def distinct_rows(W):
    """Number of distinct rows of W (compared by value, as ``np.array_equal``): 1 = every unit is a copy of one."""
    return int(np.unique(_matrix("W", W), axis=0).shape[0])


def unit_variance(A):
    """For each sample (row of A (B, n), B, n >= 1) the variance of its n unit values, averaged over samples.

    Each row is shifted by its first value before ``np.var``: the same variance, but exactly 0.0 when all units
    are equal (the mean of n equal floats need not round back to that float, which would leave ~1e-33).
    """
    A = _matrix("A", A).astype(np.float64, copy=False)
    return float(np.mean(np.var(A - A[:, :1], axis=1)))


def _real_array(name, x):
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x.astype(np.float64, copy=False)


def _matrix(name, x):
    """``x`` as a real 2-D array with at least one row and one column, else the documented error."""
    x = np.asarray(x)
    if x.ndim != 2 or 0 in x.shape:
        raise ValueError(f"{name} must be a 2-D array (rows, columns) with at least one of each, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x


def changed_parameters(before, net):
    """Names of ``net``'s parameters that differ, bitwise, from the snapshot ``before`` (``net.get_weights()``
    taken earlier), in ``get_weights`` order: what training moved. A symmetric init that leaves every weight
    exactly where it started shows here as, e.g., ``["fc2.b"]``."""
    require_network(net)
    now = net.get_weights()
    if not isinstance(before, dict):
        raise TypeError(f"before must be a snapshot of this net's get_weights() (a dict), got {type(before).__name__}")
    if set(before) != set(now):
        raise ValueError(f"before must be a snapshot of this net's get_weights() (names {sorted(now)}), got "
                         f"names {sorted(before)}")
    return [name for name, value in now.items() if not np.array_equal(value, before[name])]
