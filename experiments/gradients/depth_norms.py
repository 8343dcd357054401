"""Parts 4 and 5: what backprop multiplies δ by (the activation derivatives), and ‖dW‖ layer by layer through a deep
net at initialization beside the backward mean-field prediction."""
import numpy as np

import npnet
from npnet import activations, gradcheck
from npnet import init as npinit

from .. import _outputs as outputs
from .. import _plotting as plotting
from .checks import ACTS


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
    fig, axes = outputs.plt.subplots(1, 3, figsize=(14.5, 4.2))
    notes = {"sigmoid": ("max σ'(z) = σ(z)(1 − σ(z)) = 1/4 at z = 0:\nδ shrinks ≥ 4× at every sigmoid layer\n"
                         "(before the weights)", (0.02, 0.97), "top", "left"),
             "tanh": ("max tanh'(z) = 1 − tanh²(z) = 1\nat z = 0", (0.97, 0.06), "bottom", "right"),
             "relu": ("relu'(z) = 1 for z > 0, 0 for z < 0;\nrelu'(0) := 0 (npnet, PyTorch)", (0.02, 0.97), "top",
                      "left")}
    for ax, name in zip(axes, ACTS):
        a, g = data[name]
        ax.plot(z, a, color="0.55", linewidth=1.2, label="the activation f(z)")
        if name == "relu":
            ax.plot(z[z < 0], g[z < 0], color="C3", linewidth=2.2, label="its derivative f'(z), as backprop uses it")
            ax.plot(z[z > 0], g[z > 0], color="C3", linewidth=2.2)
            ax.plot([0], [0], marker="o", color="C3", markersize=6)
            ax.plot([0], [1], marker="o", markerfacecolor="white", color="C3", markersize=6)
            ax.annotate("central difference at 0:\n(relu(h) − relu(−h))/2h = 0.5", (0, 0.5), (1.0, 2.6), fontsize=8,
                        arrowprops=dict(arrowstyle="->", color="0.3"))
            ax.set_ylim(-0.3, 4.5)
        else:
            ax.plot(z, g, color="C3", linewidth=2.2, label="its derivative f'(z), as backprop uses it")
            ax.axhline(float(g.max()), color="C3", linewidth=0.6, linestyle=":")
        ax.plot(zc, fd[name], linestyle="none", marker="x", color="k", markersize=5,
                label="central difference (f(z + h) − f(z − h))/2h, h = 1e-4")
        ax.axhline(0, color="0.8", linewidth=0.6)
        ax.axvline(0, color="0.8", linewidth=0.6)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("pre-activation z")
        ax.set_ylabel(f"{name}(z) and its derivative {name}'(z)")
        text, xy, va, ha = notes[name]
        ax.text(*xy, text, transform=ax.transAxes, fontsize=8, va=va, ha=ha)
    fig.suptitle("Activation functions and their derivatives (what backprop multiplies δ by, layer after layer)",
                 fontsize=10)
    fig.subplots_adjust(wspace=0.28, bottom=0.2)
    plotting.figure_legend(fig, ncol=3, y=0.07)
    outputs.save_figure(fig, path)


# ---------------------------------------------------------------- 5. gradient norms through depth
DEPTH = 10                 # hidden layers; the output layer makes 11 Dense layers
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
        for init_label, (spec, init_var) in npinit.DEPTH_INITS.items():
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
                    net.backward(delta, need_dX=False)
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
    fig, axes = outputs.plt.subplots(2, 3, figsize=(14, 7.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.1]})
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
        ax_ratio.yaxis.set_minor_formatter(outputs.plt.NullFormatter())
        ax_ratio.axhline(1, color="k", linewidth=0.7)
        ax_ratio.grid(True, which="major", alpha=0.3)
        ax_ratio.set_xticks(layers)
        ax_ratio.set_xticklabels([str(k) for k in layers[:-1]] + ["out"])
        ax_ratio.set_xlabel("layer l (1 = next to the input)")
    axes[0, 0].set_ylabel("‖dW_l‖ (Frobenius), RMS over seeds")
    axes[1, 0].set_ylabel("measured / predicted")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [outputs.plt.Line2D([], [], color="0.3", linewidth=2.0, marker="o", markersize=4),
                outputs.plt.Line2D([], [], color="k", linestyle="--", linewidth=0.9, marker="s", markersize=7,
                                   markerfacecolor="none")]
    labels += ["measured", "mean-field prediction"]
    fig.legend(handles, labels, loc="lower center", ncol=6, fontsize=9, frameon=False)
    fig.suptitle(f"Gradient norm per layer at initialization: {study['hidden_layers']} hidden layers of "
                 f"{study['width']} (+ output layer of 10), batch {study['batch']}, Gaussian inputs, "
                 f"{len(study['seeds'])} seeds", fontsize=10)
    fig.subplots_adjust(bottom=0.13, hspace=0.08)
    outputs.save_figure(fig, path)
