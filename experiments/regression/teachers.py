"""Part 1 of the kaiming-analysis study: its inputs X, its four teachers and y = teacher(X) + N(0, 1)."""
import numpy as np
from scipy.stats import gaussian_kde

import npnet

from .. import _outputs as outputs
from .. import _plotting as plotting


N, QUICK_N = 10_000, 1_000
EPOCHS = 100
LR_LINEAR, LR_MLP = 0.1, 0.01
HIDDEN = 10
TEACHERS = ("linear", "relu", "sigmoid", "tanh")
W_LINEAR, B_LINEAR = np.array([[1.2, -0.5, 2.2]]), np.array([-2.0])
B_HIDDEN = np.array([-1.0, 0.5, 0.1, 0.4, 2.5, -1.0, 0.5, 0.1, 0.4, 2.5])   # the study's bh_true
B_OUT = np.array([1.0])


def make_X(n, rng):
    """The study's inputs (n, 3): x1 ~ N(2, 1), x2 ~ U(−2, 4), x3 = sin(2·U(−1, 1)) + 1."""
    X = np.empty((n, 3))
    X[:, 0] = rng.standard_normal(n) + 2
    X[:, 1] = rng.uniform(-2, 4, n)
    X[:, 2] = np.sin(rng.uniform(-1, 1, n) * 2) + 1
    return X


def teacher_nets(rng):
    """{name: npnet Network} with the study's teacher weights; the three MLPs share W1 = 2·N(0, 1), W2 ~ N(0, 1)."""
    nets = {"linear": npnet.mlp([3, 1], init="zeros", rng=rng)}
    nets["linear"].set_weights({"fc1.W": W_LINEAR, "fc1.b": B_LINEAR})
    weights = {"fc1.W": rng.standard_normal((HIDDEN, 3)) * 2, "fc1.b": B_HIDDEN,
               "fc2.W": rng.standard_normal((1, HIDDEN)), "fc2.b": B_OUT}
    for act in ("relu", "sigmoid", "tanh"):
        nets[act] = npnet.mlp([3, HIDDEN, 1], act, init="zeros", rng=rng)
        nets[act].set_weights(weights)
    return nets


def make_data(n, seed):
    """X (n, 3) and {teacher: y (n, 1)} for one seed: y = teacher(X) + N(0, 1), one noise draw per teacher."""
    X = make_X(n, np.random.default_rng([seed, 0]))
    nets = teacher_nets(np.random.default_rng([seed, 1]))
    ys = {name: net.forward(X) + np.random.default_rng([seed, 2, k]).standard_normal((n, 1))
          for k, (name, net) in enumerate(nets.items())}
    return X, ys


STUDY = "kaiming-analysis"


def plot_kde(X, ys, seed, path):
    """The study's figure: KDE of x1, x2, x3 and y for each teacher (gaussian_kde, grid min − 1 … max + 1)."""
    fig, axes = outputs.plt.subplots(2, 2, figsize=(13, 7.5))
    for ax, (name, y) in zip(axes.flat, ys.items()):
        for label, v in (("input x1 ~ N(2, 1)", X[:, 0]), ("input x2 ~ U(−2, 4)", X[:, 1]),
                         ("input x3 = sin(2·U(−1, 1)) + 1", X[:, 2]), ("target y of the teacher", y[:, 0])):
            grid = np.linspace(v.min() - 1, v.max() + 1, 100)
            dens = gaussian_kde(v)(grid)
            ax.plot(grid, dens, label=label)
            ax.fill_between(grid, dens, alpha=0.4)
        ax.set_title(f"{name} teacher: y mean {y.mean():.2f}, var {y.var():.2f}", fontsize=9)
        ax.set_xlabel("value")
        ax.set_ylabel("density (per unit of value)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, ncol=4, y=0.03)
    fig.subplots_adjust(hspace=0.35, bottom=0.12)
    fig.suptitle(f"{STUDY}'s inputs and targets reproduced (gaussian_kde, as the study), n = {len(X)}, seed {seed}")
    outputs.save_figure(fig, path)
