"""Gradient checks made visible: backprop against finite differences, and gradients vanishing or exploding with depth.

Run:  python -m experiments.gradients            (full run, well under a minute on 2 cores)
      python -m experiments.gradients --quick    (seconds; same files)

Every input is random Gaussian (no MNIST: --data is accepted, like in every experiment, and ignored). All checks
use ``npnet.gradcheck``, the code the test suite uses.
  1. Check table: max relative error of every layer's, activation's, loss's and whole net's backward against
     central differences, in float64 and float32 (and float32 nets checked on a float64 copy, and smooth nets by
     the complex step) → stdout and gradients.json.
  2. Error vs step size h = 1e-1 … 1e-12 for forward, central (order 2 and 4) differences and the complex step on
     a smooth tanh net: truncation slopes 1, 2, 4, the round-off rise ∝ ε/h, the best h → gradcheck_step_size.png.
  3. ReLU kinks: a net whose pre-activations sit at or within h of 0, checked naively (a correct backward "fails"),
     by skipping the kink coordinates (a backward wrong only at the kink passes) and by the subgradient check
     (right on both counts), for two correct conventions of relu'(0) and two deliberately wrong backwards.
  4. Activation derivatives (σ' ≤ 1/4 at 0, tanh' ≤ 1, relu' a step) with finite differences on top
     → activation_derivatives.png.
  5. ‖dW‖ per layer of a 10-hidden-layer net (width 256, batch 256) at initialization, for sigmoid / tanh / relu
     under N(0, 0.01²), N(0, 1), Xavier and He, averaged over seeds, beside the backward mean-field prediction
     → gradient_norms.png.
  6. A ReLU net initialized all-zero: every gradient but the output bias's is exactly 0.
--dtype sets the dtype of the depth study (5); parts 1–3 always cover float64 and float32.
"""
import contextlib
import math
import warnings

import numpy as np

import npnet
from npnet import activations, gradcheck, losses, probes
from npnet.layers import Activation, Dense

from . import _common as common

ACTS = ("sigmoid", "tanh", "relu")
LOSS_NAMES = ("softmax_cross_entropy", "mse")
CS231N_THRESHOLD = 1e-7   # the "relative error < 1e-7 means the gradient is right" rule of CS231n's notes


def one_blas_thread():
    """Limit BLAS to one thread: these matrices are small, and two threads on two cores shared with other work
    spend more time waiting for each other than multiplying (measured here: 128×128 products 50× slower)."""
    try:
        from threadpoolctl import threadpool_limits     # installed with scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def rng_for(seed, part):
    """An independent Generator per part of the experiment, so that parts do not shift each other's draws."""
    return np.random.default_rng([seed, part])


def backprop(net, X, y, loss="softmax_cross_entropy"):
    """{name: gradient} by one forward and backward pass (copies)."""
    loss_fn = losses.get(loss)
    loss_fn.forward(net.forward(X), y)
    net.backward(loss_fn.backward())
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
                              "roundoff": f"+ {gradcheck.ROUNDOFF_EPS:g}·ε·|f|·1.5/h (order 4)"},
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


# ---------------------------------------------------------------- 2. error vs step size
def step_size_study(rng, quick):
    """Relative error ‖n − g‖/‖g‖ over sampled coordinates of a smooth tanh net, for each scheme and step h."""
    sizes, B = [8, 16, 16, 5], 16
    net32 = npnet.mlp(sizes, "tanh", "xavier", rng=np.random.default_rng(int(rng.integers(2**32))), dtype=np.float32)
    X, y = rng.normal(size=(B, sizes[0])), rng.integers(0, sizes[-1], B)
    exponents = np.arange(-1.0, -12.01, -1.0 if quick else -0.25)
    hs = 10.0 ** exponents
    # one function for both dtypes: the float32 net's (rounded) weights; the float64 curves use its float64 copy,
    # and the exact gradient g is that copy's backprop
    ref_net = gradcheck.float64_copy(net32)
    ref64 = backprop(ref_net, X, y)
    loss = npnet.SoftmaxCrossEntropy()
    coords = [(p.name, idx) for p in ref_net.parameters() for idx in np.ndindex(p.value.shape)]
    picked = [coords[i] for i in rng.choice(len(coords), 12 if quick else 40, replace=False)]
    g = np.array([ref64[name][idx] for name, idx in picked])
    cs = gradcheck.ComplexStep(ref_net, X, y)
    curves = {}
    for label, net in (("float64", ref_net), ("float32", net32)):
        Xd = X.astype(net.dtype)
        values = {p.name: p.value for p in net.parameters()}

        def f(net=net, Xd=Xd):
            return loss.forward(net.forward(Xd), y)

        f0 = f()
        schemes = {"forward": lambda v, idx, h: gradcheck.forward_difference(f, v, idx, h, f0),
                   "central": lambda v, idx, h: gradcheck.partial_derivative(f, v, idx, h, order=2),
                   "central4": lambda v, idx, h: gradcheck.partial_derivative(f, v, idx, h, order=4)}
        for scheme, fn in schemes.items():
            errors = []
            for h in hs:
                n = np.array([fn(values[name], idx, h) for name, idx in picked])
                errors.append(float(np.linalg.norm(n - g) / np.linalg.norm(g)))
            curves[f"{scheme}_{label}"] = errors
        curves[f"f0_{label}"] = float(f0)
    curves["complex_float64"] = [
        float(np.linalg.norm(np.array([cs.partial(name, idx, h) for name, idx in picked]) - g) / np.linalg.norm(g))
        for h in hs]
    return summarize_step_sizes(hs, curves, g, len(picked))


#: scheme → (truncation order, fit range of h for the truncation slope)
TRUNCATION = {"forward": (1, (1e-4, 1e-1)), "central": (2, (1e-3, 1e-1)), "central4": (4, (10 ** -1.75, 1e-1)),
              "complex": (2, (1e-3, 1e-1))}
ROUNDOFF_FIT = (1e-12, 1e-9)   # both float64 finite-difference curves are pure round-off there


def fit_slope(hs, errors, lo, hi):
    mask = (hs >= lo * (1 - 1e-9)) & (hs <= hi * (1 + 1e-9)) & (np.asarray(errors) > 0)
    if mask.sum() < 2:
        return None
    return float(np.polyfit(np.log10(hs[mask]), np.log10(np.asarray(errors)[mask]), 1)[0])


def summarize_step_sizes(hs, curves, g, n_coords):
    eps = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}
    out = {"h": hs.tolist(), "n_coordinates": n_coords, "metric": "‖n − g‖₂ / ‖g‖₂ over the sampled coordinates",
           "curves": {}, "loss_value": curves["f0_float64"]}
    for key, errors in curves.items():
        if key.startswith("f0_"):
            continue
        scheme, dtype = key.split("_")
        errors = np.asarray(errors)
        best = int(np.argmin(errors))
        order, (lo, hi) = TRUNCATION[scheme]
        entry = {"errors": errors.tolist(), "best_h": float(hs[best]), "best_error": float(errors[best]),
                 "truncation_order": order}
        if dtype == "float64":
            entry["truncation_slope"] = fit_slope(hs, errors, lo, hi)
            if scheme != "complex":
                entry["roundoff_slope"] = fit_slope(hs, errors, *ROUNDOFF_FIT)
            # the h that balances truncation ∝ h^p against round-off ∝ ε/h: ε^(1/(p+1)) up to O(1) factors
            entry["theory_best_h"] = eps[dtype] ** (1.0 / (order + 1)) if scheme != "complex" else None
        else:
            entry["theory_best_h"] = eps[dtype] ** (1.0 / (order + 1))
        out["curves"][key] = entry
    # the round-off level predicted for a central difference: ε·|f|·√K / (h·‖g‖) (each quotient has error ~ε|f|/h)
    out["roundoff_constant"] = {d: eps[d] * abs(out["loss_value"]) * math.sqrt(n_coords) / float(np.linalg.norm(g))
                                for d in eps}
    return out


STEP_STYLES = {
    "forward": dict(color="C0", marker="o", linewidth=1.5, label="forward (f(θ+h) − f(θ)) / h"),
    "central": dict(color="C1", marker="s", linewidth=3.2, alpha=0.75, label="central, order 2"),
    "central4": dict(color="C2", marker="^", linewidth=1.5, label="central, order 4 (npnet's default)"),
    "complex": dict(color="C3", marker="D", linewidth=1.2, linestyle="--", label="complex step Im f(θ+ih) / h"),
}
DRAW_ORDER = ("central", "forward", "central4", "complex")   # the thick central line underneath


def plot_step_size(study, path):
    hs = np.asarray(study["h"])
    fig, axes = common.plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    floor = 1e-17
    for ax, dtype in zip(axes, ("float64", "float32")):
        handles = {}
        for scheme in DRAW_ORDER:
            c = study["curves"].get(f"{scheme}_{dtype}")
            if c is None:
                continue
            style = dict(STEP_STYLES[scheme])
            slope = c.get("truncation_slope")
            style["label"] += (f": slope {slope:.2f}," if slope is not None else ":") + f" best h {c['best_h']:.0e}"
            handles[scheme], = ax.plot(hs, np.maximum(c["errors"], floor), markersize=3, **style)
            ax.plot(c["best_h"], max(c["best_error"], floor), marker="*", markersize=16, color=style["color"],
                    markeredgecolor="k", linestyle="none", zorder=5)
        if dtype == "float64":   # truncation slopes: reference segments a decade below each curve
            for scheme, p in (("forward", 1), ("central", 2), ("central4", 4)):
                c = study["curves"][f"{scheme}_{dtype}"]
                lo, hi = TRUNCATION[scheme][1]
                xs = np.array([hi, lo])
                y_hi = np.interp(np.log10(hi), np.log10(hs[::-1]), np.log10(np.asarray(c["errors"])[::-1]))
                ax.plot(xs, 10 ** (y_hi - 1.0) * (xs / hi) ** p, color=STEP_STYLES[scheme]["color"], linestyle=":",
                        linewidth=1.3)
        const = study["roundoff_constant"][dtype]
        xs = hs[(hs <= (1e-6 if dtype == "float64" else 3e-3)) & (const / hs < 1e3)]
        ax.plot(xs, const / xs, color="0.4", linestyle="--", linewidth=1.0)
        mid = xs[len(xs) // 2]
        ax.annotate("round-off bound ε·|f|/h:\nslope −1, whatever the stencil", (mid, const / mid),
                    (mid / 30, const / mid * 1e-3), fontsize=8, color="0.3", ha="center", va="top",
                    arrowprops=dict(arrowstyle="->", color="0.4"))
        ax.axhline(CS231N_THRESHOLD, color="k", linewidth=0.7, linestyle="-.")
        ax.text(hs[-1], CS231N_THRESHOLD * 2, "1e-7 ", fontsize=8, ha="right")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(hs[0] * 2, hs[-1] / 2)          # large h on the left: the eye follows h shrinking
        ax.set_ylim(floor / 3, 1e3)
        ax.set_xlabel("step h")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(f"{dtype} (ε = {np.finfo(dtype).eps:.1e}); ★ = best h", fontsize=10)
        ax.legend(handles=[handles[k] for k in STEP_STYLES if k in handles], fontsize=8,
                  loc="upper right" if dtype == "float64" else "lower left")
    axes[0].set_ylabel("relative error ‖n − g‖ / ‖g‖")
    axes[0].text(1e-10, 1e-13, "complex step: nothing subtracted,\nso no round-off rise", fontsize=8, color="C3",
                 ha="center")
    axes[0].text(0.02, 0.2, "dotted: reference slopes 1, 2, 4\n(truncation error O(h), O(h²), O(h⁴))",
                 transform=axes[0].transAxes, fontsize=8, ha="left", va="top")
    axes[1].text(1e-10, 0.12, "θ + h rounds to θ:\nn = 0, error 1", fontsize=8, ha="center", va="top")
    best32 = [study["curves"][f"{k}_float32"]["best_error"] for k in ("forward", "central", "central4")]
    axes[1].text(0.04, 0.45, f"the best float32 h still leaves {min(best32):.0e} … {max(best32):.0e}:\n"
                 "float32 cannot meet 1e-7", transform=axes[1].transAxes, fontsize=8, ha="left")
    fig.suptitle(f"Finite-difference error vs step size: tanh net 8-16-16-5, softmax cross-entropy, "
                 f"{study['n_coordinates']} sampled coordinates; g = backprop in float64", fontsize=10)
    common.save_figure(fig, path)


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


# ---------------------------------------------------------------- 4. activation derivatives
def activation_derivatives():
    z = np.linspace(-6, 6, 1201)
    out = {"z": z}
    for name in ACTS:
        a = activations.ACTIVATIONS[name](z)
        grad, takes = activations.DERIVATIVES[name]
        out[name] = (a, grad(a if takes == "a" else z))
    zc = np.linspace(-5, 5, 21)     # finite-difference markers, including z = 0 exactly
    fd = {}
    for name in ACTS:
        x = zc.copy()
        fd[name] = gradcheck.numerical_gradient(lambda: np.sum(activations.ACTIVATIONS[name](x)), x, h=1e-4, order=2)
    maxima = {name: {"max_derivative": float(out[name][1].max()), "at_z": float(z[np.argmax(out[name][1])])}
              for name in ("sigmoid", "tanh")}
    maxima["relu"] = {"derivative_at_0": float(activations.relu_grad(np.zeros(1))[0]),
                      "central_difference_at_0": float(fd["relu"][10])}
    return out, zc, fd, maxima


def plot_activation_derivatives(data, zc, fd, path):
    z = data["z"]
    fig, axes = common.plt.subplots(1, 3, figsize=(13, 3.9))
    notes = {"sigmoid": ("max σ'(z) = σ(z)(1 − σ(z)) = 1/4 at z = 0:\nδ shrinks ≥ 4× at every sigmoid layer\n"
                         "(before the weights)", (0.02, 0.97), "top", "left"),
             "tanh": ("max tanh'(z) = 1 − tanh²(z) = 1\nat z = 0", (0.97, 0.06), "bottom", "right"),
             "relu": ("relu'(z) = 1 for z > 0, 0 for z < 0;\nrelu'(0) := 0 (npnet, PyTorch)", (0.02, 0.97), "top",
                      "left")}
    for ax, name in zip(axes, ACTS):
        a, g = data[name]
        ax.plot(z, a, color="0.55", linewidth=1.2, label=f"{name}(z)")
        if name == "relu":
            ax.plot(z[z < 0], g[z < 0], color="C3", linewidth=2.2, label=f"{name}'(z) (backprop)")
            ax.plot(z[z > 0], g[z > 0], color="C3", linewidth=2.2)
            ax.plot([0], [0], marker="o", color="C3", markersize=6)
            ax.plot([0], [1], marker="o", markerfacecolor="white", color="C3", markersize=6)
            ax.annotate("central difference at 0:\n(relu(h) − relu(−h))/2h = 0.5", (0, 0.5), (1.0, 2.6), fontsize=8,
                        arrowprops=dict(arrowstyle="->", color="0.3"))
            ax.set_ylim(-0.3, 4.5)
        else:
            ax.plot(z, g, color="C3", linewidth=2.2, label=f"{name}'(z) (backprop)")
            ax.axhline(float(g.max()), color="C3", linewidth=0.6, linestyle=":")
        ax.plot(zc, fd[name], linestyle="none", marker="x", color="k", markersize=5,
                label="central difference, h = 1e-4")
        ax.axhline(0, color="0.8", linewidth=0.6)
        ax.axvline(0, color="0.8", linewidth=0.6)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("pre-activation z")
        text, xy, va, ha = notes[name]
        ax.text(*xy, text, transform=ax.transAxes, fontsize=8, va=va, ha=ha)
        loc, anchor = {"sigmoid": ("center right", (1, 0.5)), "tanh": ("center left", (0, 0.3)),
                       "relu": ("center left", (0, 0.5))}[name]
        ax.legend(fontsize=7, loc=loc, bbox_to_anchor=anchor)
    fig.suptitle("Activation functions and their derivatives (what backprop multiplies δ by, layer after layer)",
                 fontsize=10)
    common.save_figure(fig, path)


# ---------------------------------------------------------------- 5. gradient norms through depth
DEPTH = 10                 # hidden layers; the output layer makes 11 Dense layers
#: init label → (npnet init spec, Var(w) as a function of (fan_in, fan_out))
DEPTH_INITS = {
    "N(0, 0.01²)": (("normal", {"std": 0.01}), lambda fi, fo: 1e-4),
    "N(0, 1)": (("normal", {"std": 1.0}), lambda fi, fo: 1.0),
    "Xavier": ("xavier_normal", lambda fi, fo: 2.0 / (fi + fo)),
    "He": ("he_normal", lambda fi, fo: 2.0 / fi),
}


def batch_kernel(M):
    """(E over samples b of x_b·x_b / n, E over pairs b ≠ b' of x_b·x_b' / n) for M (B, n): the Gram matrix's
    mean diagonal and mean off-diagonal entry, without forming it."""
    M = np.asarray(M, dtype=np.float64)
    B, n = M.shape
    diag = float(np.sum(M * M))
    col = M.sum(axis=0)
    return diag / (B * n), (float(col @ col) - diag) / (n * B * (B - 1))


def mean_field_prediction(net, X, delta_out, init_var, act):
    """Predicted ‖dW_l‖² per layer: backward mean-field recursion from the output δ, with forward statistics.

    δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(z_l). Treating W_{l+1} as independent of δ_{l+1} and of f'(z_l) (the
    "gradient independence" assumption), for samples b, b':
        E[δ_l,b · δ_l,b'] = χ_l(b, b') · δ_{l+1,b} · δ_{l+1,b'},   χ_l = n_l · Var(W_{l+1}) · E[f'(z_l,b) f'(z_l,b')]
    (b = b' gives the factor n·Var(w)·E[f'(z)²] of the diagonal). Then, since dW_l = Σ_b δ_l,b x_l,bᵀ,
        E‖dW_l‖² = Σ_{b,b'} (δ_l,b · δ_l,b') (x_l,b · x_l,b') = n_in (S_diag · E[x²] + S_off · E[x_b x_b'])
    with S_diag = Σ_b ‖δ_l,b‖² and S_off = Σ_{b≠b'} δ_l,b · δ_l,b'. The sample-pair terms matter: with outputs of
    nonzero mean (sigmoid, relu) the batch gradient is coherent and the diagonal alone is off by ~3×.
    E[f'f'], E[x²], E[x_b x_b'] are averages over the forward pass; δ enters only at the output (exact).
    """
    grad, takes = activations.DERIVATIVES[act]
    sizes = [net.in_features] + [layer.out_features for layer in net.dense]
    L = len(net.dense)
    s_diag = float(np.sum(delta_out * delta_out))
    s_off = float(np.sum(delta_out.sum(axis=0) ** 2)) - s_diag
    inputs = [X] + net.outputs[:-1]
    pred = [0.0] * L
    for k in range(L - 1, -1, -1):
        q_diag, q_off = batch_kernel(inputs[k])
        pred[k] = sizes[k] * (s_diag * q_diag + s_off * q_off)
        if k > 0:
            z, a = net.preactivations[k - 1], net.outputs[k - 1]
            fp_diag, fp_off = batch_kernel(grad(a if takes == "a" else z))
            n_var = sizes[k] * init_var(sizes[k], sizes[k + 1])
            s_diag *= n_var * fp_diag
            s_off *= n_var * fp_off
    return pred


def depth_study(rng, quick, dtype):
    width = 128 if quick else 256
    B = 128 if quick else 256
    n_seeds = 2 if quick else 5
    sizes = [width] * (DEPTH + 1) + [10]
    seeds = [int(s) for s in rng.integers(2**32, size=n_seeds)]
    results = []
    for act in ACTS:
        for init_label, (spec, init_var) in DEPTH_INITS.items():
            measured, predicted = [], []
            for s in seeds:
                r = np.random.default_rng(s)
                net = npnet.mlp(sizes, act, spec, rng=r, dtype=dtype)
                X = r.normal(size=(B, width)).astype(dtype)
                y = r.integers(0, 10, B)
                loss = npnet.SoftmaxCrossEntropy()
                with np.errstate(over="ignore", under="ignore"):
                    loss.forward(net.forward(X), y)
                    delta = loss.backward()
                    net.backward(delta)
                measured.append([float(np.sum(layer.dW.astype(np.float64) ** 2)) for layer in net.dense])
                predicted.append(mean_field_prediction(net, X, delta, init_var, act))
            m = np.sqrt(np.mean(measured, axis=0))      # RMS over seeds: the estimate of √E‖dW‖²
            p = np.sqrt(np.mean(predicted, axis=0))
            ratio = float(m[0] / m[-1])
            verdict = ("vanishing toward the input" if ratio < 1e-2 else
                       "exploding toward the input" if ratio > 1e2 else "flat through depth")
            if m.max() > 1e3:
                verdict += ", huge everywhere"
            elif m.max() < 1e-6:
                verdict += ", tiny everywhere"
            results.append({"activation": act, "init": init_label, "measured": m.tolist(), "predicted": p.tolist(),
                            "first_over_last": ratio, "verdict": verdict,
                            "max_log10_measured_over_predicted": float(np.max(np.abs(np.log10(m / p))))})
    return {"width": width, "batch": B, "hidden_layers": DEPTH, "seeds": seeds, "dtype": np.dtype(dtype).name,
            "inputs": "X ~ N(0, 1), random labels, softmax cross-entropy", "results": results}


def plot_gradient_norms(study, path):
    fig, axes = common.plt.subplots(2, 3, figsize=(14, 7.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.1]})
    layers = np.arange(1, study["hidden_layers"] + 2)
    for col, act in enumerate(ACTS):
        ax, ax_ratio = axes[0, col], axes[1, col]
        for i, res in enumerate(r for r in study["results"] if r["activation"] == act):
            measured, predicted = np.asarray(res["measured"]), np.asarray(res["predicted"])
            ax.plot(layers, measured, color=f"C{i}", marker="o", markersize=4, linewidth=2.0, label=res["init"])
            ax.plot(layers, predicted, color="k", linestyle="--", linewidth=0.9, marker="s", markersize=7,
                    markerfacecolor="none", markeredgecolor=f"C{i}")
            ax_ratio.plot(layers, measured / predicted, color=f"C{i}", marker="o", markersize=3)
        ax.set_yscale("log")
        ax.set_title(act, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax_ratio.set_yscale("log")
        ax_ratio.set_ylim(0.5, 2)
        ax_ratio.set_yticks([0.5, 1, 2])
        ax_ratio.set_yticklabels(["0.5", "1", "2"])
        ax_ratio.yaxis.set_minor_formatter(common.plt.NullFormatter())
        ax_ratio.axhline(1, color="k", linewidth=0.7)
        ax_ratio.grid(True, which="major", alpha=0.3)
        ax_ratio.set_xticks(layers)
        ax_ratio.set_xticklabels([str(k) for k in layers[:-1]] + ["out"])
        ax_ratio.set_xlabel("layer l (1 = next to the input)")
    axes[0, 0].set_ylabel("‖dW_l‖ (Frobenius), RMS over seeds")
    axes[1, 0].set_ylabel("measured / predicted")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [common.plt.Line2D([], [], color="0.3", linewidth=2.0, marker="o", markersize=4),
                common.plt.Line2D([], [], color="k", linestyle="--", linewidth=0.9, marker="s", markersize=7,
                                  markerfacecolor="none")]
    labels += ["measured", "mean-field prediction"]
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=9, frameon=False)
    fig.suptitle(f"Gradient norm per layer at initialization: {study['hidden_layers']} hidden layers of "
                 f"{study['width']} (+ output layer of 10), batch {study['batch']}, Gaussian inputs, "
                 f"{len(study['seeds'])} seeds", fontsize=10)
    fig.subplots_adjust(bottom=0.13, hspace=0.08)
    common.save_figure(fig, path)


# ---------------------------------------------------------------- 6. ReLU all-zero net
def relu_all_zero(seed, sizes=(16, 32, 10), B=32):
    """All-zero ReLU net at init: L1 of all gradients vs the output bias's; which gradients are exactly 0."""
    rng = rng_for(seed, 6)
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


# ---------------------------------------------------------------- main
def fmt(x, spec=".1e"):
    return "–" if x is None else format(x, spec)


def check_table_lines(rows):
    table = []
    for r in rows:
        f64, f32 = r["float64"], r["float32"]
        copy = r["float32_on_float64_copy"]
        cs = r["complex_step_vs_backprop"]
        table.append([r["kind"], r["name"], fmt(f64["max_rel_error"]), "yes" if f64["passed"] else "NO",
                      fmt(f32["max_rel_error"]), fmt(f32["max_abs_error"]), "yes" if f32["passed"] else "NO",
                      fmt(copy and copy["max_rel_error"]), fmt(cs and cs["max_rel_error"])])
    return common.format_table(["kind", "component", "f64 max rel", "f64 ok", "f32 max rel", "f32 max abs",
                                "f32 ok", "f32 net on f64 copy", "complex step"], table)


def main(argv=None):
    p = common.parser("python -m experiments.gradients", __doc__.split("\n")[0], data=False)  # Gaussian inputs
    for action in p._actions:           # say what the shared --dtype option means here
        if action.dest == "dtype":
            action.help = "dtype of the depth study (part 5); the checks cover float64 and float32 regardless"
    args = p.parse_args(argv)
    out = common.prepare_out(args)
    with one_blas_thread():
        run_all(args, out)


def run_all(args, out):
    progress = common.Progress()
    dtype = np.dtype(args.dtype).type

    progress("1/6 check table: layers, activations, losses")
    rows = layer_rows(rng_for(args.seed, 1))
    progress("1/6 check table: whole nets (float64, float32, float32 on a float64 copy, complex step)")
    net_table, n_warned = net_rows(rng_for(args.seed, 11), args.quick)
    rows += net_table

    progress("2/6 error vs step size")
    steps = step_size_study(rng_for(args.seed, 2), args.quick)
    plot_step_size(steps, out / "gradcheck_step_size.png")
    f32 = float32_summary(rows, steps)
    f32["precision_warnings"] = n_warned

    progress("3/6 ReLU kinks: naive, skip and subgradient checks on correct and wrong backwards")
    kinks = kink_study(int(rng_for(args.seed, 3).integers(2**32)))

    progress("4/6 activation derivatives")
    act_data, zc, fd, maxima = activation_derivatives()
    plot_activation_derivatives(act_data, zc, fd, out / "activation_derivatives.png")

    progress("5/6 gradient norm through depth")
    depth = depth_study(rng_for(args.seed, 5), args.quick, dtype)
    plot_gradient_norms(depth, out / "gradient_norms.png")

    progress("6/6 ReLU all-zero net")
    zero = relu_all_zero(args.seed)

    tolerances = {d: gradcheck.DEFAULT_TOLERANCE[np.dtype(d)] for d in ("float64", "float32")}
    print("1. Gradient check table (max relative error |g − n| / (|g| + |n|); ok = |g − n| ≤ atol + rtol·|n| + "
          f"round-off with (atol, rtol) = {tolerances['float64']} in float64, {tolerances['float32']} in float32)")
    print(check_table_lines(rows))
    f64_ok = "<" if f32["max_rel_error_float64"] < CS231N_THRESHOLD else "NOT <"
    print(f"   float64: every max relative error ≤ {f32['max_rel_error_float64']:.1e} ({f64_ok} {CS231N_THRESHOLD:g}; "
          "the largest sit on the smallest entries). float32: up to "
          f"{f32['max_rel_error_float32']:.1e} relative, {f32['max_abs_error_float32']:.1e} absolute.")
    print(f"   Why float32 cannot meet 1e-7: {f32['why']}")
    tol = f32["tolerance_float32"]
    print(f"   float32 meets |g − n| ≤ {tol['atol']:g} + {tol['rtol']:g}·|n| {tol['roundoff']}: "
          f"{'all pass' if f32['all_pass_float32'] else 'NOT all pass'}, worst error/allowed "
          f"{f32['worst_ratio_float32']:.2f}. On a float64 copy (PrecisionWarning ×{n_warned}) the float32 nets "
          f"reach {f32['max_rel_error_float32_on_float64_copy']:.1e}.")
    print()
    print("2. Error vs step size (float64 unless noted): best h, best error, fitted slopes")
    step_rows = []
    for key, c in steps["curves"].items():
        step_rows.append([key, f"{c['best_h']:.0e}", f"{c['best_error']:.1e}", fmt(c.get("theory_best_h")),
                          fmt(c.get("truncation_slope"), ".2f"), fmt(c.get("roundoff_slope"), ".2f")])
    print(common.format_table(["scheme", "best h", "error there", "ε^(1/(p+1))", "truncation slope",
                               "round-off slope"], step_rows))
    print()
    print(f"3. ReLU kinks: {kinks['placed']['exact_zeros']} pre-activations exactly 0 and "
          f"{kinks['placed']['within_h_nonzero']} more within h = 1e-3 of 0")
    kink_rows = [[r["variant"], r["mode"], "PASS" if r["passed"] else "FAIL",
                  "right" if r["verdict_right"] else "WRONG", f"{r['n_kink']}/{r['n_coords']}",
                  r["n_resolved"], r["n_at_kink"], r["n_skipped"], f"{r['n_failures']}+{r['n_kink_failures']}",
                  fmt(r["max_rel_error"])] for r in kinks["rows"]]
    print(common.format_table(["backward", "kinks", "check", "check right?", "kink coords", "resolved", "at kink",
                               "skipped", "failures", "max rel (smooth)"], kink_rows))
    f = kinks["float32_net"]
    print(f"   float32 net: checked in {f['checked_in']} with a PrecisionWarning, "
          f"{'passed' if f['passed'] else 'FAILED'}, net unchanged: {f['net_unchanged']}")
    print()
    print(f"4. Activation derivatives: max σ' = {maxima['sigmoid']['max_derivative']:.4f} at z = "
          f"{maxima['sigmoid']['at_z']:g}; max tanh' = {maxima['tanh']['max_derivative']:.4f} at z = "
          f"{maxima['tanh']['at_z']:g}; relu'(0) = {maxima['relu']['derivative_at_0']:g} by convention "
          f"(central difference there: {maxima['relu']['central_difference_at_0']:g})")
    print()
    print(f"5. ‖dW_l‖ at initialization, {depth['hidden_layers']} hidden layers of {depth['width']}, batch "
          f"{depth['batch']}, {len(depth['seeds'])} seeds ({depth['dtype']})")
    print(common.format_table(
        ["activation", "init", "‖dW_1‖", "‖dW_out‖", "first/last", "verdict", "max |log10 meas/pred|"],
        [[r["activation"], r["init"], f"{r['measured'][0]:.1e}", f"{r['measured'][-1]:.1e}",
          f"{r['first_over_last']:.1e}", r["verdict"], f"{r['max_log10_measured_over_predicted']:.2f}"]
         for r in depth["results"]]))
    print()
    print(f"6. ReLU all-zero net {zero['sizes']}: L1 of all gradients = {zero['l1_all']:.6g}, L1 of the output "
          f"bias gradient = {zero['l1_output_bias']:.6g} (equal: {zero['l1_all'] == zero['l1_output_bias']}); "
          f"exactly zero: {', '.join(zero['zero_gradients'])}; gradient check "
          f"{'passed' if zero['gradcheck_passed'] else 'FAILED'} ({zero['gradcheck_n_kink']} kink coordinates)")

    result = {
        "experiment": "gradients",
        "config": {"seed": args.seed, "quick": args.quick, "dtype_depth_study": depth["dtype"],
                   "tolerance": {k.name: v for k, v in gradcheck.DEFAULT_TOLERANCE.items()},
                   "default_step": {f"{d.name} order {o}": h for (d, o), h in gradcheck.DEFAULT_STEP.items()}},
        "check_table": rows,
        "float32": f32,
        "step_size": steps,
        "relu_kink": kinks,
        "activation_derivatives": maxima,
        "gradient_norms": depth,
        "relu_all_zero": zero,
    }
    common.write_json(out / "gradients.json", result)
    progress(f"wrote {out}/gradients.json, gradcheck_step_size.png, activation_derivatives.png, gradient_norms.png")


if __name__ == "__main__":
    raise SystemExit(common.run(main, "experiments.gradients"))
