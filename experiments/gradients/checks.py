"""Parts 1, 3 and 6: backprop against finite differences for every layer, activation, loss and whole net; ReLU
kinks; the all-zero ReLU net. Also what the other parts share (``backprop``, the activation and loss names)."""
import warnings

import numpy as np

import npnet
from npnet import gradcheck, losses, probes
from npnet.layers import Activation, Dense

from .. import _cli as cli

ACTS = ("sigmoid", "tanh", "relu")
LOSS_NAMES = ("softmax_cross_entropy", "mse")
CS231N_THRESHOLD = 1e-7   # the "relative error < 1e-7 means the gradient is right" rule of CS231n's notes


def backprop(net, X, y, loss="softmax_cross_entropy"):
    """{name: gradient} by one forward and backward pass (copies)."""
    loss_fn = losses.get(loss)
    loss_fn.forward(net.forward(X), y)
    net.backward(loss_fn.backward(), need_dX=False)
    return {p.name: p.grad.astype(np.float64) for p in net.parameters()}


# ---------------------------------------------------------------- 1. check table
def labels_or_targets(rng, loss, B, C):
    return rng.integers(0, C, B) if loss == "softmax_cross_entropy" else rng.normal(size=(B, C))


def layer_rows(rng):
    """Dense, each activation and each loss, checked in float64 and float32."""
    rows = []
    X, dout = rng.normal(size=(6, 5)), rng.normal(size=(6, 4))
    dense_rng = rng.integers(2**32)
    per_dtype = {}
    for dtype in (np.float64, np.float32):
        layer = Dense(5, 4, weight_init="xavier_normal", bias_init=("normal", {"std": 0.1}),
                      rng=np.random.default_rng(dense_rng), dtype=dtype)
        per_dtype[dtype] = gradcheck.check_layer(layer, X.astype(dtype), dout.astype(dtype))
    for name in per_dtype[np.float64]:
        rows.append(table_row("layer", f"Dense dL/d{name}", per_dtype[np.float64][name], per_dtype[np.float32][name]))
    Z = rng.normal(size=(6, 5))
    Z = np.sign(Z) * (np.abs(Z) + 0.2)   # |z| ≥ 0.2 > 2h: no stencil crosses relu's kink (that is part 3's subject)
    dA = rng.normal(size=Z.shape)
    for name in (*ACTS, "identity"):
        res = [gradcheck.check_layer(Activation(name), Z.astype(dt), dA.astype(dt))["X"]
               for dt in (np.float64, np.float32)]
        rows.append(table_row("activation", name, *res))
    out = rng.normal(size=(6, 4))
    for loss in LOSS_NAMES:
        target = labels_or_targets(rng, loss, 6, 4)
        res = [gradcheck.check_loss(loss, out.astype(dt), target if loss != "mse" else target.astype(dt))
               for dt in (np.float64, np.float32)]
        rows.append(table_row("loss", loss, *res))
    return rows


def table_row(kind, name, r64, r32, r32_on_64=None, complex_step=None, extra=None):
    return {"kind": kind, "name": name,
            "float64": r64, "float32": r32, "float32_on_float64_copy": r32_on_64,
            "complex_step_vs_backprop": complex_step, **(extra or {})}


def net_summary(report):
    """The numbers of a ``gradcheck.Report`` the table needs (the full report goes to the JSON for float64)."""
    worst_ratio = max((w["ratio"] for p in report.values() for w in p.worst[:1]), default=0.0)
    return {"max_rel_error": report.max_rel_error, "max_abs_error": report.max_abs_error, "max_ratio": worst_ratio,
            "passed": report.passed, "atol": report.atol, "rtol": report.rtol, "n_kink": report.total("n_kink")}


def net_rows(rng, quick):
    """Whole nets: every activation × loss, float64, float32 (in float32), float32 on a float64 copy, complex step."""
    sizes = [6, 10, 10, 4] if quick else [8, 16, 16, 5]
    B = 8 if quick else 16
    rows, n_warned = [], 0
    for act in ACTS:
        for loss in LOSS_NAMES if not quick else LOSS_NAMES[:1]:
            net_seed = int(rng.integers(2**32))
            X = rng.normal(size=(B, sizes[0]))
            y = labels_or_targets(rng, loss, B, sizes[-1])
            net64 = npnet.mlp(sizes, act, "xavier", rng=np.random.default_rng(net_seed))
            net32 = npnet.mlp(sizes, act, "xavier", rng=np.random.default_rng(net_seed), dtype=np.float32)
            r64 = gradcheck.check(net64, X, y, loss)
            r32 = gradcheck.check(net32, X, y, loss, precision="native")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", gradcheck.PrecisionWarning)
                r32_64 = gradcheck.check(net32, X, y, loss)
            n_warned += sum(issubclass(w.category, gradcheck.PrecisionWarning) for w in caught)
            cs = None
            if act != "relu":   # the complex step needs an analytic network
                exact = gradcheck.complex_step_gradient(net64, X, y, loss)
                grads = backprop(net64, X, y, loss)
                cs = {"max_rel_error": max(float(np.max(gradcheck.rel_error(grads[k], exact[k]))) for k in grads),
                      "max_abs_error": max(float(np.max(np.abs(grads[k] - exact[k]))) for k in grads)}
            rows.append(table_row("net", f"{'-'.join(map(str, sizes))} {act}, {loss}", net_summary(r64),
                                  net_summary(r32), net_summary(r32_64), cs,
                                  {"report_float64": r64.to_dict()}))
    return rows, n_warned


def float32_summary(rows, steps):
    """What float32 reaches in the table and in the step-size study, and why it cannot reach 1e-7."""
    r32 = [r["float32"] for r in rows]
    eps32 = float(np.finfo(np.float32).eps)
    h = gradcheck.DEFAULT_STEP[(np.dtype(np.float32), 4)]
    f = abs(steps["loss_value"])
    best = [steps["curves"][f"{k}_float32"]["best_error"] for k in ("forward", "central", "central4")]
    atol, rtol = gradcheck.DEFAULT_TOLERANCE[np.dtype(np.float32)]
    return {
        "max_rel_error_float64": max(r["float64"]["max_rel_error"] for r in rows),
        "max_rel_error_float32": max(r["max_rel_error"] for r in r32),
        "max_abs_error_float32": max(r["max_abs_error"] for r in r32),
        "best_step_size_error_float32": min(best),
        "tolerance_float32": {"atol": atol, "rtol": rtol,
                              "roundoff": f"+ {gradcheck.ROUNDOFF_FACTOR:g}·ε·|f|·1.5/h (order 4)"},
        "worst_ratio_float32": max(r["max_ratio"] for r in r32),
        "all_pass_float32": all(r["passed"] for r in r32),
        "max_rel_error_float32_on_float64_copy": max(r["float32_on_float64_copy"]["max_rel_error"] for r in rows
                                                     if r["float32_on_float64_copy"]),
        "why": f"f itself carries ~ε·|f| = {eps32:.1e}·{f:.2f} of round-off, and a difference quotient divides that "
               f"by h: ε·|f|/h ≈ {eps32 * f / h:.0e} at h = {h:g}. Balancing it against truncation, the best h leaves "
               f"{min(best):.0e} … {max(best):.0e} relative error on the whole gradient (step-size study), and entries "
               "much smaller than the largest get far worse, since their absolute error is the same: 1e-7 is out of "
               "reach whatever the stencil. float32 meets an absolute-plus-relative tolerance instead; to test the "
               "code, check a float64 copy (gradcheck.check does by default).",
    }


# ---------------------------------------------------------------- 3. ReLU kinks
DYADIC = 2.0 ** -6        # weights and inputs are rounded to multiples of this: every product and sum is then exact
NEAR = 2.0 ** -12         # ≈ 2.4e-4 < h = 1e-3: "within h of the kink", and itself exact in binary


class KinkBugReLU(Activation):
    """A wrong ReLU: its backward flips the gradient's sign where 0 < |z| < ``band``, i.e. only next to the kink."""

    def __init__(self, band):
        super().__init__("relu")
        self.band = band

    def backward(self, dA):
        dZ = super().backward(dA)
        return np.where(np.abs(self._Z) < self.band, -dZ, dZ)


def near_kink_net(seed, *, relu_grad_at_zero=0.0, layer_factory=None, dtype=np.float64, sizes=(6, 8, 8, 4), B=8):
    """A ReLU net and data whose pre-activations sit at, or within h of, the kink.

    Weights and inputs are rounded to multiples of 2⁻⁶, so X Wᵀ is computed exactly in any summation order. Each
    unit of the first hidden layer gets its bias set so that one sample's pre-activation is exactly 0, +2⁻¹² or
    −2⁻¹² (cycling); the second hidden layer likewise with ±2⁻¹² only (an exact 0 there would put several kinks at
    the same θ for every first-layer weight; see ``npnet.gradcheck``). Returns (net, X, y).
    ``layer_factory`` (optional) replaces each Activation, e.g. by a deliberately wrong one.
    """
    rng = np.random.default_rng(seed)
    net = npnet.mlp(list(sizes), "relu", "he_normal", rng=rng, relu_grad_at_zero=relu_grad_at_zero, dtype=dtype)
    if layer_factory is not None:
        net = npnet.Network([layer_factory() if isinstance(layer, Activation) else layer for layer in net.layers])
    for layer in net.dense:
        layer.W[...] = np.round(layer.W / DYADIC) * DYADIC
    X = (np.round(rng.normal(size=(B, sizes[0])) / DYADIC) * DYADIC).astype(dtype)
    y = rng.integers(0, sizes[-1], B)
    for k, offsets in enumerate([(0.0, NEAR, -NEAR), (NEAR, -NEAR)][:len(net.dense) - 1]):
        layer = net.dense[k]
        net.forward(X)
        inputs = X if k == 0 else net.outputs[k - 1]
        products = inputs @ layer.W.T
        for i in range(layer.out_features):
            b = (3 * i + k) % B
            layer.b[i] = -products[b, i] + offsets[i % len(offsets)]
    net.forward(X)
    return net, X, y


#: variant → (keyword arguments of near_kink_net, is the backward correct?)
KINK_VARIANTS = {
    "relu'(0)=0 (PyTorch)": ({}, True),
    "relu'(0)=1": ({"relu_grad_at_zero": 1.0}, True),
    "relu'(0)=2 (wrong)": ({"relu_grad_at_zero": 2.0}, False),
    "sign flipped next to kink (wrong)": ({"layer_factory": lambda: KinkBugReLU(1e-3)}, False),
}


def kink_study(seed):
    rows = []
    for variant, (kwargs, correct) in KINK_VARIANTS.items():
        for mode in gradcheck.KINK_MODES[::-1]:
            net, X, y = near_kink_net(seed, **kwargs)
            report = gradcheck.check(net, X, y, kinks=mode)
            worst = max(((name, w) for name, p in report.items() for w in p.worst[:1]), key=lambda t: t[1]["ratio"])
            rows.append({"variant": variant, "backward_correct": correct, "mode": mode, "passed": report.passed,
                         "verdict_right": report.passed == correct,
                         "max_rel_error": report.max_rel_error, "n_coords": sum(int(np.prod(p.shape))
                                                                                for p in report.values()),
                         "n_kink": report.total("n_kink"), "n_resolved": report.total("n_resolved"),
                         "n_at_kink": report.total("n_at_kink"), "n_skipped": report.total("n_skipped"),
                         "n_failures": report.total("n_failures"), "n_kink_failures": report.total("n_kink_failures"),
                         "worst": {"param": worst[0], **worst[1]}})
    net, _, _ = near_kink_net(seed)
    z = net.preactivations[:2]
    placed = {"exact_zeros": int(sum(np.count_nonzero(p == 0) for p in z)),
              "within_h_nonzero": int(sum(np.count_nonzero((np.abs(p) < 1e-3) & (p != 0)) for p in z))}
    # a float32 net: checked on a float64 copy, with a warning, and left unchanged
    net32, X32, y32 = near_kink_net(seed, dtype=np.float32)
    before = net32.get_weights()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", gradcheck.PrecisionWarning)
        r32 = gradcheck.check(net32, X32, y32)
    float32 = {"passed": r32.passed, "checked_in": r32.dtype, "warning": str(caught[0].message) if caught else None,
               "net_unchanged": all(np.array_equal(before[k], v) for k, v in net32.get_weights().items()),
               "n_kink": r32.total("n_kink"), "max_rel_error": r32.max_rel_error}
    return {"rows": rows, "placed": placed, "float32_net": float32}


# ---------------------------------------------------------------- 6. ReLU all-zero net
def relu_all_zero(seed, sizes=(16, 32, 10), B=32):
    """All-zero ReLU net at init: L1 of all gradients vs the output bias's; which gradients are exactly 0."""
    rng = cli.rng_for(seed, 6)
    net = npnet.mlp(list(sizes), "relu", "zeros", rng=rng)
    X, y = rng.normal(size=(B, sizes[0])), rng.integers(0, sizes[-1], B)
    summary = probes.gradients_at(net, X, y)
    report = gradcheck.check(net, X, y)
    return {
        "sizes": list(sizes), "batch": B,
        **summary,
        "nonzero_gradients": [p.name for p in net.parameters() if p.name not in summary["zero_gradients"]],
        "why": "every hidden pre-activation is 0, so A = relu(0) = 0: dW_out = δᵀA = 0; the signal to the hidden "
               "layer, δ W_out, is 0 because W_out = 0; only db_out = Σ_b δ_b = Σ_b (softmax(0) − onehot(y_b))/B "
               "is nonzero",
        "gradcheck_passed": report.passed, "gradcheck_n_kink": report.total("n_kink"),
    }
