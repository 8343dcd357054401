"""What every depth study measures: a forward pass through a stack of scaled Gaussian layers, its per-layer
statistics, their mean over seeds, and the mean-field rows drawn over them."""
import math

import numpy as np

from npnet import activations, meanfield

from .. import _cli as cli


STUDIES = ("init-bench", "relu-spread", "cs231n-notes", "gains")
STUDY_PART = {name: i + 1 for i, name in enumerate(STUDIES)}   # seeds each study's Generator apart


def sigmoid(z):
    """1/(1 + e^{−z}) in its tanh form, without overflow warnings. The depth studies' published numbers were
    computed with this form; npnet.activations.sigmoid (the exp form) differs from it in the last bits."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


#: name → f(z): npnet's activations, the gain study's forward-only two, and the tanh-form sigmoid above
ACT = {"identity": activations.identity, "sigmoid": sigmoid, "tanh": activations.tanh, "relu": activations.relu,
       "leaky_relu": activations.leaky_relu, "selu": activations.selu}


def mean_sq(x):
    return float(np.mean(np.square(x)))


def input_share(a):
    """Share of the spread of a (B, m) that varies with the input: mean over units of Var over the batch / Var(a).

    The rest is spread *across units*, each of which says the same thing for every input: a histogram of all
    entries cannot tell the two apart.
    """
    total = float(a.var())
    return float(np.mean(a.var(axis=0)) / total) if total > 0 else 0.0


def layer_row(z, a):
    """The per-layer numbers every study reports, for z (B, m) and a = φ(z)."""
    ez2, ea2 = mean_sq(z), mean_sq(a)
    return {"Ez2": ez2, "Ea2": ea2, "mean_a": float(a.mean()), "std_a": float(a.std()),
            "ratio_Ea2_Ez2": ea2 / ez2 if ez2 else None,
            "ratio_Var": float(a.var() / z.var()) if z.var() > 0 else None,
            "frac_zero": float(np.mean(a == 0)), "input_share_a": input_share(a)}


def forward(x, weights, scales, f, hist_at=(), hist_range=None, bins=30):
    """z_l = x_{l−1}·(s_l W_l)ᵀ, x_l = f(z_l) through every layer; per-layer rows, and histograms at ``hist_at``.

    ``hist_range``: fixed (lo, hi), or None for ±4 RMS of each tensor.
    """
    rows, hists = [], {}
    with np.errstate(over="ignore", under="ignore"):
        for layer, (W, s) in enumerate(zip(weights, scales), start=1):
            z = (x @ W.T) * s
            a = f(z)
            rows.append(layer_row(z, a))
            if layer in hist_at:
                hists[layer] = {}
                for key, v in (("z", z), ("a", a)):
                    lim = hist_range or (-4 * math.sqrt(mean_sq(v)) or -1.0, 4 * math.sqrt(mean_sq(v)) or 1.0)
                    counts, edges = np.histogram(v, bins=bins, range=lim)
                    hists[layer][key] = {"counts": counts.tolist(), "edges": edges.tolist()}
            x = a
    return rows, hists


def over_seeds(runs, key):
    """Per-layer mean and SD over seeds of ``key`` from a list of per-seed row lists."""
    v = np.array([[r[key] for r in rows] for rows in runs], dtype=float)
    return v.mean(axis=0), (v.std(axis=0, ddof=1) if len(v) > 1 else np.zeros(v.shape[1]))


def theory_rows(q, name):
    """Mean-field E[z²], E[a²], mean and SD of a for each layer's q."""
    f = ACT[name]
    ea2 = meanfield.expect(lambda u: f(u) ** 2, q)
    ea = meanfield.expect(f, q)
    return {"Ez2": q.tolist(), "Ea2": ea2.tolist(), "mean_a": ea.tolist(),
            "std_a": np.sqrt(np.maximum(ea2 - ea ** 2, 0.0)).tolist()}


def versus_theory(mean_ez2, theory_ez2):
    return (np.asarray(mean_ez2) / np.asarray(theory_ez2)).tolist()


def rng_for(seed, study):
    return cli.rng_for(seed, STUDY_PART[study])
