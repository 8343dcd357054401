"""Part 2: the error of forward, central (order 2 and 4) differences and the complex step against the step h."""
import math

import numpy as np

import npnet
from npnet import gradcheck

from .. import _outputs as outputs
from .checks import CS231N_THRESHOLD, backprop


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
    fig, axes = outputs.plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
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
    outputs.save_figure(fig, path)
