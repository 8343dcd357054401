"""Gradient checking: backprop's gradient g against a difference quotient n, entry by entry.

  ``difference``                  the finite-difference core: one coordinate's quotient (all below use it)
  ``numerical_gradient``          the quotient of any f() with respect to every entry of an array
  ``check(net, X, y)``            a whole network → ``Report``: a ``ParamReport`` per parameter, ``.passed``,
                                  ``.rel_errors`` ({name: max relative error}), ``str(report)`` a readable table
  ``check_layer``, ``check_loss`` one layer's or loss's backward → ``compare``'s dict (per input for a layer)

Stencils (``order``):
  order 2:  n = (f(θ+h) − f(θ−h)) / 2h                                    truncation error O(h²)
  order 4:  n = (−f(θ+2h) + 8f(θ+h) − 8f(θ−h) + f(θ−2h)) / 12h            truncation error O(h⁴)
  forward:  n = (f(θ+h) − f(θ)) / h   (``forward_difference``)           truncation error O(h)
Round-off adds ~ε·|f|/h to all of them (f is only known to ~ε·|f|). The order-2 optimum (h ≈ ε^(1/3) ≈ 1e-5 in
float64) leaves ~1e-7 relative error on small entries; order 4 at h = 1e-3 gets ~1e-9, hence the default. float32
(ε ≈ 1.2e-7) cannot get below ~1e-3 on its smallest entries whatever the stencil, so ``check`` checks a float32
network on a float64 copy (with a ``PrecisionWarning``).

The complex step n = Im f(θ + ih) / h subtracts nothing: ``npnet.complexstep`` (``ComplexStep`` here too).

Two ways to compare:  ``rel_error``, CS231n's |g − n| / max(|g| + |n|, tiny), is what tables report; it is ~1 when
                  both g and n are ≈ 0 (say 1e-17 against 3e-13), which is agreement, not an error.
  ``check``       passes a coordinate when |g − n| ≤ atol + rtol·|n| + r, like ``numpy.isclose`` plus r, the
                  quotient's own round-off bound 2ε·|f|·Σ|stencil coefficients| (``roundoff_allowance``); NaN fails.

ReLU kinks: where a perturbation moves a ReLU pre-activation across 0 the quotient straddles the kink; ``check``
detects those coordinates and resolves them (smaller steps, then a subgradient test): docs/BACKPROP.md, "Gradient
checking at ReLU kinks". Every perturbed entry is restored in ``finally``: an exception never leaves a net modified.
"""
import dataclasses
import warnings

import numpy as np

from . import _validate, losses
from .complexstep import ComplexStep, complex_step_gradient  # noqa: F401  (the complex step, re-exported)
from .network import require_network

#: order → ([(offset k, weight w_k)], denominator): n = Σ_k w_k (f(θ + k h) − f(θ − k h)) / (denominator · h).
#: Each pair is differenced first, so a coordinate that does not change f gives exactly 0 (not ~ε·|f|).
_STENCILS = {2: ([(1, 1)], 2), 4: ([(1, 8), (2, -1)], 12)}
DEFAULT_STEP = {(np.dtype(np.float64), 2): 1e-5, (np.dtype(np.float64), 4): 1e-3,
                (np.dtype(np.float32), 2): 1e-2, (np.dtype(np.float32), 4): 3e-2}
TINY = 1e-12

#: dtype checked in → (atol, rtol), on top of the quotient's own round-off (ROUNDOFF_FACTOR). float64: order 4 at
#: h = 1e-3 is good to ~1e-12 absolute, ~1e-9 relative, so a real bug (O(1) relative) fails by orders of magnitude.
#: float32: truncation at h = 3e-2 and the coarse round-off estimate leave ~1e-3 relative; calibrated so that
#: correct nets pass with room (worst error/allowed ≈ 0.4 over 90 random small nets).
DEFAULT_TOLERANCE = {np.dtype(np.float64): (1e-8, 1e-5), np.dtype(np.float32): (1e-5, 1e-2)}
#: dtype → smallest step of the kink ladder, ≈ √ε: below it a one-sided difference's round-off (∝ ε·|f|/s) outgrows
#: its truncation error (∝ s·|f''|). float32 with 3e-3: 1 correct net in 30 failed (too many kinks inside); 3e-4: none.
KINK_MIN_STEP = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 3e-4}
KINK_SHRINK = 10          # the ladder divides the step by this per rung
#: f is computed to within about this factor times ε·|f| (measured on small nets: ≤ 1.5), so a quotient
#: Σ c_k f(θ + k s) carries a round-off error up to ROUNDOFF_FACTOR·ε·|f|·Σ|c_k|, added to the tolerance
ROUNDOFF_FACTOR = 2.0
KINK_MODES, PRECISIONS = ("subgradient", "skip", "ignore"), ("float64", "native")
SMOOTH, RESOLVED, AT_KINK, SKIPPED = "smooth", "kink-resolved", "at-kink", "skipped"   # how a coordinate was compared


class PrecisionWarning(UserWarning):
    """A float32 network was checked on a float64 copy (float32 round-off would swamp the differences)."""


def rel_error(analytic, numeric, tiny=TINY):
    """Elementwise |a − n| / max(|a| + |n|, tiny): 0 where a = n (also 0 = 0 with tiny = 0), NaN where either is NaN."""
    tiny = _validate.in_interval("tiny", tiny, 0.0, np.inf)
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    diff = np.abs(a - n)
    return np.divide(diff, np.maximum(np.abs(a) + np.abs(n), tiny), out=np.zeros_like(diff), where=diff != 0)


def _step(x, h, order):
    """``h``, or the default step for ``x``'s dtype and the stencil order (which is checked)."""
    if order not in _STENCILS:
        raise ValueError(f"order must be 2 or 4, got {order!r}")
    return DEFAULT_STEP[(np.dtype(x.dtype), order)] if h is None else h


def difference(f, x, idx, h, order=4):
    """The finite-difference core: (n, {±k: f(θ ± kh)}), n = Σ_k w_k (f(θ + kh) − f(θ − kh)) / (denominator·h) over
    the ``order``'s stencil, θ = x[idx] set in place and restored even on error.

    Each pair is differenced first, so a coordinate that does not change f gives exactly 0 (not ~ε·|f|).
    """
    _step(x, h, order)                                   # checks the order
    pairs, denominator = _STENCILS[order]
    original, values, total = x[idx], {}, 0.0
    try:
        for k, weight in pairs:
            x[idx] = original + k * h
            values[k] = f()
            x[idx] = original - k * h
            values[-k] = f()
            total += weight * (values[k] - values[-k])
    finally:
        x[idx] = original
    return total / (denominator * h), values


def partial_derivative(f, x, idx, h, order=4):
    """∂f/∂x[idx] by a central difference of the given order; ``x[idx]`` is restored even on error."""
    return difference(lambda: float(f()), x, idx, h, order)[0]


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
    """Central-difference gradient (float64) of ``f()``, which takes no arguments and reads the float array ``x``;
    ``x`` is perturbed in place one entry at a time and always restored (an integer array cannot hold x ± h)."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"x must be a float numpy array (perturbed in place), got {got}")
    h = _step(x, h, order)
    return np.array([partial_derivative(f, x, idx, h, order) for idx in np.ndindex(x.shape)]).reshape(x.shape)


def roundoff_allowance(dtype, f0, step, order=4):
    """Bound on a central difference's round-off error: ROUNDOFF_FACTOR·ε·|f(θ)|·Σ|stencil coefficients| / step."""
    gain = 2 * sum(abs(w) for _, w in _STENCILS[order][0]) / _STENCILS[order][1]
    return ROUNDOFF_FACTOR * float(np.finfo(dtype).eps) * abs(float(f0)) * gain / step


def float64_copy(net):
    """A deep copy of ``net`` computing in float64 (parameters converted exactly; layer classes kept)."""
    return net.astype(np.float64)


@dataclasses.dataclass
class ParamReport:
    """The check of one parameter array.

    max_rel_error (at ``max_rel_index``), max_abs_error : over the smooth coordinates (central difference at h
        crossing no kink). n_kink : coordinates whose stencil at h crossed a ReLU kink; of these ``n_resolved`` were
        compared at a smaller step crossing none, ``n_at_kink`` got the subgradient (one-sided interval) test,
        ``n_skipped`` were left out (``kinks="skip"``). n_failures, n_kink_failures : smooth / kink coordinates
        outside the tolerance. worst : up to ``n_worst`` coordinates, largest ``ratio`` = error / allowed first,
        each a dict with index, kind, analytic, numeric (or the one-sided interval), abs_error, allowed, ratio, step.
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

    passed = property(lambda self: self.n_failures == 0 and self.n_kink_failures == 0)

    def to_dict(self):
        """JSON-ready dict (adds ``passed``)."""
        return {**dataclasses.asdict(self), "shape": list(self.shape), "max_rel_index": list(self.max_rel_index),
                "passed": self.passed}


class Report(dict):
    """``check``'s result: parameter name → ``ParamReport``, and the settings as attributes: ``dtype`` (what the
    check computed in), ``net_dtype``, ``h``, ``order``, ``atol``, ``rtol``, ``kinks``."""

    def __init__(self, params, **settings):
        super().__init__((p.name, p) for p in params)
        self.settings = settings
        for key, value in settings.items():
            setattr(self, key, value)

    passed = property(lambda self: all(p.passed for p in self.values()))
    max_rel_error = property(lambda self: max((p.max_rel_error for p in self.values()), default=0.0))
    max_abs_error = property(lambda self: max((p.max_abs_error for p in self.values()), default=0.0))
    #: {parameter name: max relative error}: the one-line summary, e.g. {"fc1.W": 3e-10, …}
    rel_errors = property(lambda self: {name: p.max_rel_error for name, p in self.items()})

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


class _Loss:
    """f() = the loss at (X, y); ``crossed``: a ReLU input changed sign from the first evaluation since ``at`` began."""

    def __init__(self, net, loss_fn, X, y):
        self.net, self.loss_fn, self.X, self.y = net, loss_fn, X, y
        self.relus = [layer for layer in net.layers if getattr(layer, "name", None) == "relu"]
        self.signs, self.crossed = None, False
        self.f0 = self()
        self.signs = [np.sign(layer._Z) for layer in self.relus]

    def __call__(self):
        value = float(self.loss_fn.forward(self.net.forward(self.X), self.y))
        if self.signs is not None:
            self.crossed |= any(not np.array_equal(np.sign(r._Z), s) for r, s in zip(self.relus, self.signs))
        return value

    def at(self, x, idx, step, order):
        """(central difference, whether its stencil crossed a kink, {±k: f(θ ± k·step)})."""
        self.crossed = False
        n, values = difference(self, x, idx, step, order)
        return n, self.crossed, values


def _coordinate(f, x, idx, g, h, order, kinks, atol, rtol, dtype):
    """One coordinate: (kind, numeric (at a kink the one-sided interval), |error|, allowed, step, crossed at h)."""
    n, crossed, values = f.at(x, idx, h, order)
    crossed_at_h, step = crossed, h
    if crossed and kinks == "skip":
        return SKIPPED, 0.0, 0.0, 1.0, h, True
    if crossed and kinks == "subgradient":
        while crossed and step / KINK_SHRINK >= KINK_MIN_STEP[dtype] * (1 - 1e-9):
            step /= KINK_SHRINK
            n, crossed, values = f.at(x, idx, step, order)
        if crossed:          # within the smallest step of the kink: g must be a subgradient
            if order == 2:   # the truncation estimate below needs f(θ ± 2s) too
                values = f.at(x, idx, step, 4)[2]
            f0, noise = f.f0, ROUNDOFF_FACTOR * float(np.finfo(dtype).eps) * abs(f.f0)   # one evaluation's error
            left, right = (f0 - values[-1]) / step, (values[1] - f0) / step
            lo, hi = min(left, right), max(left, right)
            # each one-sided difference is off by ≈ s·|f''|/2 (f'' on its own side of the kink) + round-off 2·noise/s
            curvature = max(abs(values[2] - 2 * values[1] + f0), abs(values[-2] - 2 * values[-1] + f0))
            allowed = atol + rtol * max(abs(lo), abs(hi)) + curvature / (2 * step) + 2 * noise / step
            return AT_KINK, (lo, hi), max(lo - g, g - hi, 0.0), allowed, step, True
        kind = RESOLVED
    else:
        kind = SMOOTH
    allowed = atol + rtol * abs(n) + roundoff_allowance(dtype, f.f0, step, order)
    return kind, n, abs(g - n), allowed, step, crossed_at_h


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
        one-sided differences' truncation estimate) of [min(L, R), max(L, R)]; a NaN error fails
    precision : "float64" (default) checks a float32 network on a float64 copy, warning ``PrecisionWarning``, and
        leaves ``net`` untouched; "native" checks in the network's own dtype
    kinks : "subgradient" (default) resolves kink-crossing coordinates (docs/BACKPROP.md §4.1); "skip" leaves
        them out (counting them); "ignore" compares them like any other coordinate (what a naive checker does)
    n_worst : how many worst coordinates (>= 0) each ``ParamReport`` lists
    tiny : the floor of the relative error's denominator (finite, >= 0; see ``rel_error``)

    With ``precision="native"`` the network's parameter values are restored bitwise; its gradients hold the
    analytic gradient at X afterwards.
    """
    require_network(net)
    _validate.choice("kinks", kinks, KINK_MODES)
    if h is not None:
        _validate.positive_float("h", h)
    n_worst = _validate.nonnegative_int("n_worst", n_worst)
    rel_error(0.0, 0.0, tiny)            # checks tiny
    work = net
    if _validate.choice("precision", precision, PRECISIONS) == "float64" and net.dtype != np.float64:
        name = np.dtype(net.dtype).name
        warnings.warn(f"checking a float64 copy of this {name} network: in {name} the round-off of f (ε·|f|/h) "
                      "swamps the differences; the network itself is not modified (pass precision='native' to check "
                      "in its own dtype)", PrecisionWarning, stacklevel=2)
        work = net.astype(np.float64)
    dtype = np.dtype(work.dtype)
    h0 = _step(work, h, order)
    default_atol, default_rtol = DEFAULT_TOLERANCE[dtype]
    atol = default_atol if atol is None else _validate.in_interval("atol", atol, 0.0, np.inf)
    rtol = default_rtol if rtol is None else _validate.in_interval("rtol", rtol, 0.0, np.inf)
    loss_fn = losses.get(loss)
    X = _validate.finite("X", _validate.batch("X", X, work.in_features, work.dtype))
    f = _Loss(work, loss_fn, X, y)
    work.backward(loss_fn.backward(), need_dX=False)        # the analytic gradients; the forwards below keep them
    reports = []
    for p in work.parameters():
        g = p.grad.astype(np.float64)
        rows = [_coordinate(f, p.value, i, g[i], h0, order, kinks, atol, rtol, dtype) for i in np.ndindex(g.shape)]
        reports.append(_param_report(p.name, g, rows, n_worst, tiny))
    f()                      # leave the caches describing the unperturbed point
    return Report(reports, dtype=dtype.name, net_dtype=np.dtype(net.dtype).name, h=float(h0), order=order,
                  atol=atol, rtol=rtol, kinks=kinks)


def _param_report(name, g, rows, n_worst, tiny):
    """A ``ParamReport`` from ``_coordinate``'s rows (kind, numeric, error, allowed, step, crossed), in index order."""
    kind = np.array([r[0] for r in rows], dtype=object).reshape(g.shape)
    numeric = np.array([r[1][1] if r[0] == AT_KINK else r[1] for r in rows]).reshape(g.shape)   # right one-sided
    error, allowed, step_used, crossed_at_h = (np.array([r[i] for r in rows]).reshape(g.shape) for i in (2, 3, 4, 5))
    smooth, kinked = kind == SMOOTH, (kind == RESOLVED) | (kind == AT_KINK)
    rel = np.where(smooth, rel_error(g, numeric, tiny), 0.0)
    ratio = np.where(kind == SKIPPED, -1.0, error / allowed)
    fail = ~(ratio <= 1.0)                             # NaN fails: a check that passes on NaN proves nothing
    worst = []
    for flat in np.argsort(-np.where(np.isnan(ratio), np.inf, ratio), axis=None, kind="stable")[:n_worst]:
        idx, row = np.unravel_index(int(flat), g.shape), rows[int(flat)]
        if row[0] == SKIPPED:
            break
        worst.append({"index": [int(i) for i in idx], "kind": row[0], "analytic": float(g[idx]),
                      "numeric": [float(v) for v in row[1]] if row[0] == AT_KINK else float(row[1]),
                      "abs_error": float(error[idx]), "allowed": float(allowed[idx]), "ratio": float(ratio[idx]),
                      "step": float(step_used[idx])})
    count = np.count_nonzero
    return ParamReport(
        name=name, shape=tuple(g.shape), max_rel_error=float(rel.max()),
        max_abs_error=float(np.where(smooth, error, 0.0).max()),
        n_kink=int(count(crossed_at_h)), n_resolved=int(count(kind == RESOLVED)), n_at_kink=int(count(kind == AT_KINK)),
        n_skipped=int(count(kind == SKIPPED)), n_failures=int(count(fail & smooth)),
        n_kink_failures=int(count(fail & kinked)), worst=worst,
        max_rel_index=tuple(int(i) for i in np.unravel_index(int(np.argmax(rel)), rel.shape)))


def compare(analytic, numeric, *, atol=None, rtol=None, roundoff=0.0, tiny=TINY):
    """Summary of an analytic against a numeric gradient: max relative error, max |g − n|, and whether every entry
    satisfies |g − n| ≤ atol + rtol·|n| + roundoff (atol, rtol default to ``DEFAULT_TOLERANCE`` for the analytic
    gradient's dtype; ``roundoff`` is the difference quotient's round-off bound, see ``roundoff_allowance``)."""
    analytic = np.asarray(analytic)
    default_atol, default_rtol = DEFAULT_TOLERANCE.get(analytic.dtype, DEFAULT_TOLERANCE[np.dtype(np.float64)])
    atol, rtol = default_atol if atol is None else atol, default_rtol if rtol is None else rtol
    g, n = analytic.astype(np.float64), np.asarray(numeric, dtype=np.float64)
    error = np.abs(g - n)
    ratio = error / (atol + rtol * np.abs(n) + roundoff)
    return {"max_rel_error": float(rel_error(g, n, tiny).max()), "max_abs_error": float(error.max()),
            "max_ratio": float(ratio.max()), "passed": bool(np.all(ratio <= 1.0)), "atol": atol, "rtol": rtol,
            "roundoff": roundoff}


def _compare_numerical(analytic, f, x, f0, h, order, **tolerances):
    """``compare`` of ``analytic`` with the central-difference gradient of f() with respect to x."""
    return compare(analytic, numerical_gradient(f, x, h, order),
                   roundoff=roundoff_allowance(x.dtype, f0, _step(x, h, order), order), **tolerances)


def check_layer(layer, X, dout, *, h=None, order=4, tiny=TINY, atol=None, rtol=None):
    """A layer's backward against central differences: {"X": ``compare`` dict, "W": …, "b": …}.

    Checks the gradient for the layer's input ("X") and each parameter, using the scalar f = Σ dout ⊙ layer.forward(X),
    whose gradient with respect to the output is ``dout``; ``dout`` must have the output's shape (ValueError).
    """
    X, dout = np.asarray(X), np.asarray(dout)
    if X.dtype.kind not in "biuf" or dout.dtype.kind not in "biuf":
        raise TypeError(f"X and dout must hold real numbers, got dtypes {X.dtype} and {dout.dtype}")
    # a copy (the check perturbs it) in the layer's dtype; a layer without one (Activation) keeps X's float dtype
    X = X.astype(getattr(layer, "dtype", X.dtype if X.dtype.kind == "f" else np.float64))
    if hasattr(layer, "in_features"):         # layers do not check their input: a Dense's is checked here
        X = _validate.batch("X", X, layer.in_features, layer.dtype)
    if dout.shape != np.shape(layer.forward(X)):
        raise ValueError(f"dout must have the layer's output shape {np.shape(layer.forward(X))}, got {dout.shape}")

    def objective():
        return np.sum(dout * layer.forward(X))

    f0 = objective()
    analytic = {"X": layer.backward(dout.astype(X.dtype)).copy()}   # the layer reuses that array on its next call
    analytic.update({name: grad.copy() for name, _, grad in layer.parameters()})
    targets = {"X": X, **{name: value for name, value, _ in layer.parameters()}}
    return {name: _compare_numerical(analytic[name], objective, value, f0, h, order, atol=atol, rtol=rtol, tiny=tiny)
            for name, value in targets.items()}


def check_loss(loss, output, target, *, h=None, order=4, tiny=TINY, atol=None, rtol=None):
    """A loss's backward (∂L/∂output) against central differences: ``compare``'s dict."""
    loss_fn = losses.get(loss)
    output = output.copy()
    f0 = loss_fn.forward(output, target)
    return _compare_numerical(loss_fn.backward(), lambda: loss_fn.forward(output, target), output, f0, h, order,
                              atol=atol, rtol=rtol, tiny=tiny)
