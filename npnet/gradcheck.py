"""Gradient checking by central finite differences (the test suite and the experiments use this module).

The analytic gradient g from backprop is compared, entry by entry, with a central difference n, using CS231n's
relative error  |g − n| / max(|g| + |n|, tiny)  (``tiny`` keeps 0/0 at 0). Every perturbed entry is restored in
``finally``, so an exception never leaves a network modified.

Two central stencils:
  order 2:  n = (f(θ+h) − f(θ−h)) / 2h                                    truncation error O(h²)
  order 4:  n = (−f(θ+2h) + 8f(θ+h) − 8f(θ−h) + f(θ−2h)) / 12h            truncation error O(h⁴)
Round-off adds ~ε·|f|/h for both. The order-2 optimum (h ≈ ε^(1/3) ≈ 1e-5 in float64) leaves ~1e-7 relative error
on small gradient entries; order 4 at h = 1e-3 gets ~1e-9, which is why it is the default. float32 (ε ≈ 1.2e-7)
cannot get below ~1e-3 whatever the stencil.

ReLU kinks: where a perturbation moves a ReLU pre-activation across 0, the difference quotient straddles a kink
and disagrees with backprop although backprop is right. ``check_network`` detects those coordinates (a ReLU
input changes sign between the evaluations) and leaves them out of the maximum, counting them instead.
"""
import numpy as np

from . import losses

#: order → ([(offset k, weight w_k)], denominator): n = Σ_k w_k (f(θ + k h) − f(θ − k h)) / (denominator · h).
#: Each pair is differenced first, so a coordinate that does not change f gives exactly 0 (not ~ε·|f|).
_STENCILS = {2: ([(1, 1)], 2), 4: ([(1, 8), (2, -1)], 12)}
DEFAULT_STEP = {(np.dtype(np.float64), 2): 1e-5, (np.dtype(np.float64), 4): 1e-3,
                (np.dtype(np.float32), 2): 1e-2, (np.dtype(np.float32), 4): 3e-2}
TINY = 1e-12


def rel_error(analytic, numeric, tiny=TINY):
    """Elementwise |a − n| / max(|a| + |n|, tiny)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), tiny)


def _step(x, h, order):
    if order not in _STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order!r}")
    return DEFAULT_STEP[(x.dtype, order)] if h is None else h


def partial_derivative(f, x, idx, h, order=4):
    """∂f/∂x[idx] by a central difference of the given order; ``x[idx]`` is restored even on error."""
    pairs, denominator = _STENCILS[order]
    original = x[idx]
    total = 0.0
    try:
        for k, weight in pairs:
            x[idx] = original + k * h
            f_plus = float(f())
            x[idx] = original - k * h
            total += weight * (f_plus - float(f()))
    finally:
        x[idx] = original
    return total / (denominator * h)


def numerical_gradient(f, x, h=None, order=4):
    """Central-difference gradient of the scalar function ``f()`` with respect to the array ``x`` (float64 result).

    ``f`` takes no arguments and reads ``x``, which is perturbed in place one entry at a time and always restored.
    """
    h = _step(x, h, order)
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        grad[idx] = partial_derivative(f, x, idx, h, order)
    return grad


def _relu_inputs(net):
    return [layer._Z for layer in net.layers if getattr(layer, "name", None) == "relu"]


def check_network(net, X, y, loss="softmax_cross_entropy", *, h=None, order=4, tiny=TINY, details=False):
    """Max relative error of every parameter's backprop gradient against central differences.

    Returns ``{param name: max relative error}``, e.g. ``{"fc1.W": 3e-10, "fc1.b": 1e-10, …}``, over the
    coordinates whose perturbation crosses no ReLU kink. With ``details=True`` each value is instead a dict with
    "max_rel_error", "n_kink" (coordinates left out) and "worst" (the index of the largest error).
    Works in the network's dtype (float64 or float32).
    """
    loss_fn = losses.get(loss)
    X = np.asarray(X, dtype=net.dtype)
    crossed = [False]

    def objective():
        value = loss_fn.forward(net.forward(X), y)
        signs = [np.sign(z) for z in _relu_inputs(net)]
        if any(not np.array_equal(s, s0) for s, s0 in zip(signs, base_signs)):
            crossed[0] = True
        return value

    base_signs = []
    objective()
    base_signs = [np.sign(z) for z in _relu_inputs(net)]
    net.backward(loss_fn.backward())
    analytic = {p.name: p.grad.copy() for p in net.parameters()}
    result = {}
    for p in net.parameters():
        step = _step(p.value, h, order)
        errors = np.zeros(p.value.shape)
        kink = np.zeros(p.value.shape, dtype=bool)
        for idx in np.ndindex(p.value.shape):
            crossed[0] = False
            numeric = partial_derivative(objective, p.value, idx, step, order)
            kink[idx] = crossed[0]
            errors[idx] = 0.0 if kink[idx] else rel_error(analytic[p.name][idx], numeric, tiny)
        worst = np.unravel_index(int(np.argmax(errors)), errors.shape)
        summary = {"max_rel_error": float(errors[worst]), "n_kink": int(kink.sum()),
                   "worst": [int(i) for i in worst]}
        result[p.name] = summary if details else summary["max_rel_error"]
    return result


def check_layer(layer, X, dout, *, h=None, order=4, tiny=TINY):
    """Max relative errors of a layer's backward: for its input ("X") and each parameter ("W", "b", …).

    Uses the scalar f = Σ dout ⊙ layer.forward(X), whose gradient with respect to the output is ``dout``.
    """
    X = X.copy()

    def objective():
        return np.sum(dout * layer.forward(X))

    objective()
    analytic = {"X": layer.backward(dout)}
    analytic.update({name: grad.copy() for name, _, grad in layer.parameters()})
    targets = {"X": X, **{name: value for name, value, _ in layer.parameters()}}
    return {name: float(rel_error(analytic[name], numerical_gradient(objective, value, h, order), tiny).max())
            for name, value in targets.items()}


def check_loss(loss, output, target, *, h=None, order=4, tiny=TINY):
    """Max relative error of a loss's backward (∂L/∂output) against central differences."""
    loss_fn = losses.get(loss)
    output = output.copy()
    loss_fn.forward(output, target)
    analytic = loss_fn.backward()
    numeric = numerical_gradient(lambda: loss_fn.forward(output, target), output, h, order)
    return float(rel_error(analytic, numeric, tiny).max())
