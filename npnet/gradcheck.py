"""Gradient checking: backprop's gradients against finite differences (the tests and the experiments use this).

The analytic gradient g from backprop is compared, entry by entry, with a difference quotient n.

  ``check(net, X, y)``            a whole network → ``Report``: one ``ParamReport`` per parameter, ``.passed``,
                                  ``.rel_errors`` ({name: max relative error}), ``str(report)`` a readable table
  ``check_layer``, ``check_loss`` one layer's or loss's backward → ``compare``'s dict (per input for a layer)
  ``numerical_gradient``          the difference quotient of any f() with respect to an array

Stencils (``order``):
  order 2:  n = (f(θ+h) − f(θ−h)) / 2h                                    truncation error O(h²)
  order 4:  n = (−f(θ+2h) + 8f(θ+h) − 8f(θ−h) + f(θ−2h)) / 12h            truncation error O(h⁴)
  forward:  n = (f(θ+h) − f(θ)) / h   (``forward_difference``)           truncation error O(h)
Round-off adds ~ε·|f|/h to all of them: f is only known to ~ε·|f|, and the difference quotient divides that by h.
The order-2 optimum (h ≈ ε^(1/3) ≈ 1e-5 in float64) leaves ~1e-7 relative error on small gradient entries; order 4
at h = 1e-3 gets ~1e-9, which is why it is the default. float32 (ε ≈ 1.2e-7) cannot get below ~1e-3 on its
smallest entries whatever the stencil: ε·|f|/h is ~1e-5 at the best h, and an entry of 1e-3 makes that 1e-2
relative. ``check`` therefore checks a float32 network on a float64 copy (with a ``PrecisionWarning``).

The complex step  n = Im f(θ + ih) / h  (``ComplexStep``) subtracts nothing, so it has no cancellation error:
h = 1e-20 gives the derivative to machine precision. It needs f to be analytic, so only smooth networks
(sigmoid, tanh, identity) qualify; it runs ``npnet.reference``'s forward functions on complex copies of the
parameters, an independent second implementation of the forward pass.

Two ways to compare:
  ``rel_error``   CS231n's |g − n| / max(|g| + |n|, tiny): what tables report. It blows up to ~1 when both g and n
                  are ≈ 0 (say 1e-17 against 3e-13), which is agreement, not an error.
  ``check``       passes a coordinate when |g − n| ≤ atol + rtol·|n| + r, like ``numpy.isclose`` plus r, the
                  difference quotient's own round-off bound 2ε·|f|·Σ|stencil coefficients| (``roundoff_allowance``).

ReLU kinks: where a perturbation moves a ReLU pre-activation across 0 the difference quotient straddles the
kink; ``check`` detects those coordinates and resolves them (smaller steps, then a subgradient test). Why and how:
docs/BACKPROP.md, "Gradient checking at ReLU kinks".

Every perturbed entry is restored in ``finally``, so an exception never leaves a network modified.
"""
import copy
import dataclasses
import warnings

import numpy as np

from . import _validate, losses, reference
from .layers import Activation, Dense

#: order → ([(offset k, weight w_k)], denominator): n = Σ_k w_k (f(θ + k h) − f(θ − k h)) / (denominator · h).
#: Each pair is differenced first, so a coordinate that does not change f gives exactly 0 (not ~ε·|f|).
_STENCILS = {2: ([(1, 1)], 2), 4: ([(1, 8), (2, -1)], 12)}
DEFAULT_STEP = {(np.dtype(np.float64), 2): 1e-5, (np.dtype(np.float64), 4): 1e-3,
                (np.dtype(np.float32), 2): 1e-2, (np.dtype(np.float32), 4): 3e-2}
TINY = 1e-12

#: dtype checked in → (atol, rtol). The tolerance is atol + rtol·|n| plus the difference quotient's own round-off
#: (see ROUNDOFF_EPS), so these only need to cover what that estimate misses. float64: order 4 at h = 1e-3 is good to
#: ~1e-12 absolute and ~1e-9 relative, so any real bug (wrong by O(1) relative) still fails by orders of magnitude.
#: float32: the truncation error at h = 3e-2 and the coarse round-off estimate leave ~1e-3 relative; calibrated so
#: that correct nets pass with room (worst error/allowed ≈ 0.4 over 90 random small nets).
DEFAULT_TOLERANCE = {np.dtype(np.float64): (1e-8, 1e-5), np.dtype(np.float32): (1e-5, 1e-2)}
#: dtype → smallest step of the kink ladder, ≈ √ε rounded: below it a one-sided difference's round-off (∝ ε·|f|/s)
#: outgrows its truncation error (∝ s·|f''|). In float32 a coarser floor leaves several kinks inside the smallest
#: step too often (measured: 1 correct net in 30 failed with 3e-3, none with 3e-4).
KINK_MIN_STEP = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 3e-4}
KINK_SHRINK = 10          # the ladder divides the step by this per rung
#: f is computed with a relative error of at most about this many ε (measured on small nets: ≤ 1.5 ε), so a
#: difference quotient Σ c_k f(θ + k s) carries a round-off error up to ROUNDOFF_EPS·ε·|f|·Σ|c_k|, added to the
#: tolerance
ROUNDOFF_EPS = 2.0
KINK_MODES = ("subgradient", "skip", "ignore")
PRECISIONS = ("float64", "native")

# what was compared at a coordinate
SMOOTH, RESOLVED, AT_KINK, SKIPPED = "smooth", "kink-resolved", "at-kink", "skipped"
#: activations whose formulas are analytic, so that the complex step applies
ANALYTIC = ("sigmoid", "tanh", "identity")


class PrecisionWarning(UserWarning):
    """A float32 network was checked on a float64 copy (float32 round-off would swamp the differences)."""


def rel_error(analytic, numeric, tiny=TINY):
    """Elementwise |a − n| / max(|a| + |n|, tiny)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), tiny)


def _check_order(order):
    if order not in _STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order!r}")


def _step(x, h, order):
    """``h``, or the default step for ``x``'s dtype and the stencil order."""
    _check_order(order)
    return DEFAULT_STEP[(np.dtype(x.dtype), order)] if h is None else h


def _stencil_values(f, x, idx, h, order):
    """{k: f() with x[idx] = θ + k·h} for the stencil's offsets ±k; ``x[idx]`` is restored even on error."""
    pairs, _ = _STENCILS[order]
    original = x[idx]
    values = {}
    try:
        for k, _ in pairs:
            x[idx] = original + k * h
            values[k] = f()
            x[idx] = original - k * h
            values[-k] = f()
    finally:
        x[idx] = original
    return values


def _central(values, h, order):
    """The central difference from ``_stencil_values`` output (floats)."""
    pairs, denominator = _STENCILS[order]
    total = 0.0
    for k, weight in pairs:
        total += weight * (values[k] - values[-k])
    return total / (denominator * h)


def partial_derivative(f, x, idx, h, order=4):
    """∂f/∂x[idx] by a central difference of the given order; ``x[idx]`` is restored even on error."""
    _check_order(order)
    return _central(_stencil_values(lambda: float(f()), x, idx, h, order), h, order)


def forward_difference(f, x, idx, h, f0=None):
    """∂f/∂x[idx] ≈ (f(θ+h) − f(θ)) / h, truncation error O(h); pass ``f0 = f()`` to save an evaluation."""
    f0 = float(f()) if f0 is None else f0
    original = x[idx]
    try:
        x[idx] = original + h
        f_plus = float(f())
    finally:
        x[idx] = original
    return (f_plus - f0) / h


def numerical_gradient(f, x, h=None, order=4):
    """Central-difference gradient of the scalar function ``f()`` with respect to the array ``x`` (float64 result).

    ``f`` takes no arguments and reads ``x``, which is perturbed in place one entry at a time and always restored.
    ``x`` must be a float array (TypeError otherwise): an integer array cannot hold x ± h.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"x must be a float numpy array (perturbed in place), got "
                        f"{type(x).__name__ if not isinstance(x, np.ndarray) else f'dtype {x.dtype}'}")
    h = _step(x, h, order)
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        grad[idx] = partial_derivative(f, x, idx, h, order)
    return grad


def roundoff_allowance(dtype, f0, step, order=4):
    """Bound on a central difference's round-off error: ROUNDOFF_EPS·ε·|f(θ)|·Σ|stencil coefficients| / step."""
    pairs, denominator = _STENCILS[order]
    gain = 2 * sum(abs(w) for _, w in pairs) / denominator
    return ROUNDOFF_EPS * float(np.finfo(dtype).eps) * abs(float(f0)) * gain / step


def _relu_inputs(net):
    return [layer._Z for layer in net.layers if getattr(layer, "name", None) == "relu"]


def float64_copy(net):
    """A deep copy of ``net`` computing in float64 (parameters converted exactly; layer classes kept)."""
    twin = copy.deepcopy(net)
    for layer in twin.dense:
        layer.dtype = np.float64
        layer.W, layer.b = layer.W.astype(np.float64), layer.b.astype(np.float64)
        layer.dW, layer.db = np.zeros_like(layer.W), np.zeros_like(layer.b)
        layer._X = None
    twin.dtype = np.float64
    return twin


@dataclasses.dataclass
class ParamReport:
    """The check of one parameter array.

    max_rel_error, max_abs_error : CS231n relative error and |g − n| over the smooth coordinates (central
        difference at h crossing no kink); kink coordinates are reported by the counts below.
    n_kink : coordinates whose stencil at h crossed a ReLU kink; of these ``n_resolved`` were compared at a smaller
        step that crosses none, ``n_at_kink`` got the subgradient (one-sided interval) test, ``n_skipped`` were left
        out (``kinks="skip"``).
    n_failures, n_kink_failures : smooth / kink coordinates outside the tolerance.
    worst : up to ``n_worst`` coordinates, largest ``ratio`` = error / allowed first (ratio > 1 fails), each a dict
        with index, kind, analytic, numeric (or the one-sided interval), abs_error, allowed, ratio, step.
    max_rel_index : the coordinate of ``max_rel_error``.
    """

    name: str
    shape: tuple
    max_rel_error: float
    max_abs_error: float
    n_kink: int
    n_resolved: int
    n_at_kink: int
    n_skipped: int
    n_failures: int
    n_kink_failures: int
    worst: list
    max_rel_index: tuple

    @property
    def passed(self):
        return self.n_failures == 0 and self.n_kink_failures == 0

    def to_dict(self):
        """JSON-ready dict (adds ``passed``)."""
        return {**dataclasses.asdict(self), "shape": list(self.shape), "max_rel_index": list(self.max_rel_index),
                "passed": self.passed}


class Report(dict):
    """``check``'s result: parameter name → ``ParamReport``, plus the settings used.

    Attributes: ``dtype`` (what the check computed in), ``net_dtype``, ``h``, ``order``, ``atol``, ``rtol``,
    ``kinks``; ``passed`` is True when every parameter passed.
    """

    def __init__(self, params, **settings):
        super().__init__((p.name, p) for p in params)
        self.settings = settings
        for key, value in settings.items():
            setattr(self, key, value)

    @property
    def passed(self):
        return all(p.passed for p in self.values())

    @property
    def max_rel_error(self):
        return max((p.max_rel_error for p in self.values()), default=0.0)

    @property
    def max_abs_error(self):
        return max((p.max_abs_error for p in self.values()), default=0.0)

    @property
    def rel_errors(self):
        """{parameter name: max relative error}: the one-line summary, e.g. {"fc1.W": 3e-10, …}."""
        return {name: p.max_rel_error for name, p in self.items()}

    def total(self, field):
        """Sum of an integer field (e.g. "n_kink", "n_kink_failures") over the parameters."""
        return sum(getattr(p, field) for p in self.values())

    def to_dict(self):
        return {"settings": self.settings, "passed": self.passed, "max_rel_error": self.max_rel_error,
                "max_abs_error": self.max_abs_error, "params": {k: p.to_dict() for k, p in self.items()}}

    def __str__(self):
        s = self.settings
        lines = [f"gradient check in {s['dtype']} (net {s['net_dtype']}), order {s['order']}, h={s['h']:g}, "
                 f"|g − n| ≤ {s['atol']:g} + {s['rtol']:g}·|n| + round-off, kinks: {s['kinks']} → "
                 f"{'PASSED' if self.passed else 'FAILED'}"]
        for p in self.values():
            lines.append(f"  {p.name:8s} max rel {p.max_rel_error:.1e}  max abs {p.max_abs_error:.1e}  "
                         f"kinks {p.n_kink} (resolved {p.n_resolved}, at kink {p.n_at_kink}, skipped {p.n_skipped})"
                         f"  failures {p.n_failures}+{p.n_kink_failures}  {'ok' if p.passed else 'FAIL'}")
            for w in p.worst if not p.passed else []:
                numeric = (f"in [{w['numeric'][0]:.6g}, {w['numeric'][1]:.6g}]" if w["kind"] == AT_KINK
                           else f"{w['numeric']:.6g}")
                lines.append(f"      {w['kind']:13s} {tuple(w['index'])}: analytic {w['analytic']:.6g}, numeric "
                             f"{numeric}, error {w['abs_error']:.2e} vs allowed {w['allowed']:.2e}")
        return "\n".join(lines)


def _work_net(net, precision):
    _validate.choice("precision", precision, PRECISIONS)
    if precision == "float64" and net.dtype != np.float64:
        warnings.warn(f"checking a float64 copy of this {np.dtype(net.dtype).name} network: in "
                      f"{np.dtype(net.dtype).name} the round-off of f (ε·|f|/h) swamps the differences; the network "
                      "itself is not modified (pass precision='native' to check in its own dtype)",
                      PrecisionWarning, stacklevel=3)
        return float64_copy(net)
    return net


def check(net, X, y, loss="softmax_cross_entropy", *, h=None, order=4, atol=None, rtol=None, precision="float64",
          kinks="subgradient", n_worst=3, tiny=TINY):
    """Check every parameter's backprop gradient against finite differences; returns a ``Report``.

    Parameters
    ----------
    net : Network;  X (B, in), y (B,) labels (or targets for "mse");  loss : name or loss object
    h : step (default ``DEFAULT_STEP`` for the dtype checked in and ``order``)
    order : 2 or 4, the central stencil
    atol, rtol : a coordinate passes when |g − n| ≤ atol + rtol·|n| + round-off bound (default
        ``DEFAULT_TOLERANCE``); at a kink, when g is within that distance (with |n| = max(|L|, |R|), plus the
        one-sided differences' truncation estimate) of [min(L, R), max(L, R)]
    precision : "float64" (default) checks a float32 network on a float64 copy, warning ``PrecisionWarning``, and
        leaves ``net`` untouched; "native" checks in the network's own dtype
    kinks : "subgradient" (default) resolves kink-crossing coordinates (docs/BACKPROP.md §4.1); "skip" leaves
        them out (counting them); "ignore" compares them like any other coordinate (what a naive checker does)
    n_worst : how many worst coordinates each ``ParamReport`` lists

    With ``precision="native"`` the network's parameter values are restored bitwise; its gradients hold the
    analytic gradient at X afterwards.
    """
    _validate.choice("kinks", kinks, KINK_MODES)
    if h is not None:
        _validate.positive_float("h", h)
    work = _work_net(net, precision)
    dtype = np.dtype(work.dtype)
    default_atol, default_rtol = DEFAULT_TOLERANCE[dtype]
    atol = default_atol if atol is None else _validate.in_interval("atol", atol, 0.0, np.inf)
    rtol = default_rtol if rtol is None else _validate.in_interval("rtol", rtol, 0.0, np.inf)
    loss_fn = losses.get(loss)
    X = _validate.finite("X", _validate.batch("X", X, work.in_features, work.dtype))
    base_signs = []

    def objective():
        """(loss at the current parameters, whether any ReLU input changed sign from the base point)."""
        value = float(loss_fn.forward(work.forward(X), y))
        crossed = any(not np.array_equal(np.sign(z), s0) for z, s0 in zip(_relu_inputs(work), base_signs))
        return value, crossed

    f0, _ = objective()
    base_signs = [np.sign(z) for z in _relu_inputs(work)]
    work.backward(loss_fn.backward())
    analytic = {p.name: p.grad.astype(np.float64) for p in work.parameters()}
    h0 = _step(work, h, order)
    min_step = KINK_MIN_STEP[dtype]
    noise = ROUNDOFF_EPS * float(np.finfo(dtype).eps) * abs(f0)   # the error of one evaluation of f

    def at(p, idx, step, order=order):
        """(central difference, whether the stencil crossed a kink, the stencil's loss values) at ``step``."""
        values = _stencil_values(objective, p.value, idx, step, order)
        losses_ = {k: v for k, (v, _) in values.items()}
        return _central(losses_, step, order), any(c for _, c in values.values()), losses_

    reports = []
    for p in work.parameters():
        g = analytic[p.name]
        numeric = np.zeros(g.shape)
        error = np.zeros(g.shape)
        allowed = np.ones(g.shape)
        kind = np.full(g.shape, SMOOTH, dtype=object)
        crossed_at_h = np.zeros(g.shape, dtype=bool)
        step_used = np.full(g.shape, h0)
        interval = {}
        for idx in np.ndindex(g.shape):
            n, crossed, values = at(p, idx, h0)
            crossed_at_h[idx] = crossed
            step = h0
            if crossed and kinks == "skip":
                kind[idx] = SKIPPED
                continue
            if crossed and kinks == "subgradient":
                while crossed and step / KINK_SHRINK >= min_step * (1 - 1e-9):
                    step /= KINK_SHRINK
                    n, crossed, values = at(p, idx, step)
                step_used[idx] = step
                kind[idx] = AT_KINK if crossed else RESOLVED
                if crossed:          # within the smallest step of the kink: g must be a subgradient
                    if order == 2:   # the truncation estimate below needs f(θ ± 2s) too
                        values = at(p, idx, step, order=4)[2]
                    left, right = (f0 - values[-1]) / step, (values[1] - f0) / step
                    lo, hi = min(left, right), max(left, right)
                    # each one-sided difference is off by ≈ s·|f''|/2 (f'' from the second difference on its own
                    # side of the kink) plus round-off 2·noise/s
                    curvature = max(abs(values[2] - 2 * values[1] + f0), abs(values[-2] - 2 * values[-1] + f0))
                    interval[idx] = (lo, hi)
                    numeric[idx] = right
                    error[idx] = max(lo - g[idx], g[idx] - hi, 0.0)
                    allowed[idx] = (atol + rtol * max(abs(lo), abs(hi)) + curvature / (2 * step)
                                    + 2 * noise / step)
                    continue
            numeric[idx] = n
            error[idx] = abs(g[idx] - n)
            allowed[idx] = atol + rtol * abs(n) + roundoff_allowance(dtype, f0, step, order)
        reports.append(_param_report(p.name, g, numeric, error, allowed, kind, crossed_at_h, step_used, interval,
                                     n_worst, tiny))
    objective()                      # leave the caches describing the unperturbed point
    return Report(reports, dtype=dtype.name, net_dtype=np.dtype(net.dtype).name, h=float(h0), order=order,
                  atol=atol, rtol=rtol, kinks=kinks)


def _param_report(name, g, numeric, error, allowed, kind, crossed_at_h, step_used, interval, n_worst, tiny):
    smooth = kind == SMOOTH
    kinked = (kind == RESOLVED) | (kind == AT_KINK)
    rel = np.where(smooth, rel_error(g, numeric, tiny), 0.0)
    ratio = np.where(kind == SKIPPED, -1.0, error / allowed)
    fail = ratio > 1.0
    max_rel_index = np.unravel_index(int(np.argmax(rel)), rel.shape) if rel.size else ()
    order = np.argsort(-ratio, axis=None, kind="stable")[:n_worst]
    worst = []
    for flat in order:
        idx = np.unravel_index(int(flat), g.shape)
        if kind[idx] == SKIPPED:
            break
        worst.append({"index": [int(i) for i in idx], "kind": kind[idx], "analytic": float(g[idx]),
                      "numeric": [float(v) for v in interval[idx]] if idx in interval else float(numeric[idx]),
                      "abs_error": float(error[idx]), "allowed": float(allowed[idx]), "ratio": float(ratio[idx]),
                      "step": float(step_used[idx])})
    return ParamReport(
        name=name, shape=tuple(g.shape),
        max_rel_error=float(rel.max()) if rel.size else 0.0,
        max_abs_error=float(np.max(np.where(smooth, error, 0.0))) if rel.size else 0.0,
        n_kink=int(np.count_nonzero(crossed_at_h)),
        n_resolved=int(np.count_nonzero(kind == RESOLVED)),
        n_at_kink=int(np.count_nonzero(kind == AT_KINK)),
        n_skipped=int(np.count_nonzero(kind == SKIPPED)),
        n_failures=int(np.count_nonzero(fail & smooth)),
        n_kink_failures=int(np.count_nonzero(fail & kinked)),
        worst=worst, max_rel_index=tuple(int(i) for i in max_rel_index))


def compare(analytic, numeric, *, atol=None, rtol=None, roundoff=0.0, tiny=TINY):
    """Summary of an analytic against a numeric gradient: max relative error, max |g − n|, and whether every entry
    satisfies |g − n| ≤ atol + rtol·|n| + roundoff (atol, rtol default to ``DEFAULT_TOLERANCE`` for the analytic
    gradient's dtype; ``roundoff`` is the difference quotient's round-off bound, see ``roundoff_allowance``)."""
    analytic = np.asarray(analytic)
    default_atol, default_rtol = DEFAULT_TOLERANCE.get(analytic.dtype, DEFAULT_TOLERANCE[np.dtype(np.float64)])
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    g, n = analytic.astype(np.float64), np.asarray(numeric, dtype=np.float64)
    error = np.abs(g - n)
    ratio = error / (atol + rtol * np.abs(n) + roundoff)
    return {"max_rel_error": float(rel_error(g, n, tiny).max()), "max_abs_error": float(error.max()),
            "max_ratio": float(ratio.max()), "passed": bool(np.all(ratio <= 1.0)), "atol": atol, "rtol": rtol,
            "roundoff": roundoff}


def check_layer(layer, X, dout, *, h=None, order=4, tiny=TINY, atol=None, rtol=None):
    """A layer's backward against central differences: {"X": ``compare`` dict, "W": …, "b": …}.

    Checks the gradient for the layer's input ("X") and each parameter, using the scalar f = Σ dout ⊙ layer.forward(X),
    whose gradient with respect to the output is ``dout``; ``dout`` must have the output's shape (ValueError).
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    # a copy (the check perturbs it) in the layer's dtype; a layer without one (Activation) keeps X's float dtype
    X = X.astype(getattr(layer, "dtype", X.dtype if X.dtype.kind == "f" else np.float64))
    dout = np.asarray(dout)
    if dout.shape != np.shape(layer.forward(X)):
        raise ValueError(f"dout must have the layer's output shape {np.shape(layer.forward(X))}, got {dout.shape}")

    def objective():
        return np.sum(dout * layer.forward(X))

    f0 = objective()
    analytic = {"X": layer.backward(dout).copy()}   # the layer reuses that array on its next call
    analytic.update({name: grad.copy() for name, _, grad in layer.parameters()})
    targets = {"X": X, **{name: value for name, value, _ in layer.parameters()}}
    result = {name: compare(analytic[name], numerical_gradient(objective, value, h, order), atol=atol, rtol=rtol,
                            roundoff=roundoff_allowance(value.dtype, f0, _step(value, h, order), order), tiny=tiny)
              for name, value in targets.items()}
    return result


def check_loss(loss, output, target, *, h=None, order=4, tiny=TINY, atol=None, rtol=None):
    """A loss's backward (∂L/∂output) against central differences: ``compare``'s dict."""
    loss_fn = losses.get(loss)
    output = output.copy()
    f0 = loss_fn.forward(output, target)
    analytic = loss_fn.backward()
    numeric = numerical_gradient(lambda: loss_fn.forward(output, target), output, h, order)
    result = compare(analytic, numeric, atol=atol, rtol=rtol,
                     roundoff=roundoff_allowance(output.dtype, f0, _step(output, h, order), order), tiny=tiny)
    return result


class ComplexStep:
    """Complex-step derivatives ∂L/∂θ = Im L(θ + ih) / h of a smooth network's loss: no subtraction, no cancellation.

    L is computed by ``npnet.reference``'s forward functions (written analytic for this) on complex copies of the
    network's parameters; the network itself is only read. Requires Dense layers and sigmoid / tanh / identity
    activations (ReLU is not analytic), and the "softmax_cross_entropy" or "mse" loss.
    """

    def __init__(self, net, X, y, loss="softmax_cross_entropy"):
        self.loss = losses.get(loss).name
        if self.loss not in ("softmax_cross_entropy", "mse"):
            raise ValueError(f"complex step supports the softmax_cross_entropy and mse losses, got {loss!r}")
        self.plan = []
        k = 0
        for layer in net.layers:
            if isinstance(layer, Dense):
                k += 1
                self.plan.append(("dense", f"fc{k}"))
            elif isinstance(layer, Activation) and layer.name in ANALYTIC:
                self.plan.append(("act", reference.ACTIVATIONS[layer.name][0]))
            else:
                raise ValueError(f"complex step needs an analytic network (Dense, sigmoid, tanh, identity); "
                                 f"{layer!r} is not")
        self.values = {p.name: p.value.astype(np.complex128) for p in net.parameters()}
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y)
        if self.loss == "mse" and self.y.ndim == 1 and np.issubdtype(self.y.dtype, np.integer):
            self.y = np.eye(net.out_features)[self.y]      # int labels → one-hot targets, as ``losses.MSE``

    def loss_value(self):
        """L at the current (complex) parameters."""
        out = self.X.astype(np.complex128)
        for op, arg in self.plan:
            out = reference.dense_forward(out, self.values[f"{arg}.W"], self.values[f"{arg}.b"])[0] \
                if op == "dense" else arg(out)[0]
        forward = reference.mse_forward if self.loss == "mse" else reference.softmax_ce_forward
        return forward(out, self.y)[0]

    def partial(self, name, idx, h=1e-20):
        """∂L/∂θ[idx] of parameter ``name`` by Im L(θ + ih) / h."""
        value = self.values[name]
        original = value[idx]
        try:
            value[idx] = original + 1j * h
            return float(self.loss_value().imag / h)
        finally:
            value[idx] = original

    def gradient(self, h=1e-20):
        """{name: ∂L/∂θ} for every parameter (float64 arrays)."""
        return {name: np.array([self.partial(name, idx, h) for idx in np.ndindex(v.shape)]).reshape(v.shape)
                for name, v in self.values.items()}


def complex_step_gradient(net, X, y, loss="softmax_cross_entropy", *, h=1e-20):
    """{name: gradient} of a smooth network's loss by the complex step (see ``ComplexStep``)."""
    return ComplexStep(net, X, y, loss).gradient(h)
