"""Optimizers: SGD (with optional momentum) and Adam, updating parameters in place from their gradients.

Both take ``params``: a Network (its ``parameters()``) or a list of ``Param(name, value, grad)``. ``step()`` reads
the gradients that the last ``backward`` set and updates the values in place.
"""
import math

import numpy as np

from . import _validate


def _params(params):
    params = params.parameters() if hasattr(params, "parameters") else list(params)
    if not params:
        raise ValueError("params is empty: nothing to optimize")
    return params


class SGD:
    """θ ← θ − lr · v,  v = μ v + g  (PyTorch's momentum form; with μ = 0, plain θ ← θ − lr · g)."""

    def __init__(self, params, lr, momentum=0.0):
        self.params = _params(params)
        self.lr = _validate.positive_float("lr", lr)
        self.momentum = _validate.in_interval("momentum", momentum, 0.0, 1.0)
        self._velocity = [np.zeros_like(p.value) for p in self.params] if self.momentum else None
        self._scratch = [np.empty_like(p.value) for p in self.params]  # reused: no allocation per step

    def step(self):
        """One update of every parameter from its current gradient."""
        for i, (_, value, grad) in enumerate(self.params):
            if self._velocity is not None:
                v = self._velocity[i]
                v *= self.momentum
                v += grad
                grad = v
            np.multiply(grad, self.lr, out=self._scratch[i])
            value -= self._scratch[i]


class Adam:
    """Kingma & Ba (2015), with PyTorch's defaults and its form of the update.

    At step t = 1, 2, … (bias correction counts from 1: at t = 0 it would divide by zero, and counting from 0
    is a classic bug):
        m ← β1 m + (1 − β1) g,   v ← β2 v + (1 − β2) g²
        θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = _params(params)
        self.lr = _validate.positive_float("lr", lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = _validate.in_interval("betas[0]", betas[0], 0.0, 1.0)
        self.beta2 = _validate.in_interval("betas[1]", betas[1], 0.0, 1.0)
        self.eps = _validate.positive_float("eps", eps)
        self.t = 0
        self._m = [np.zeros_like(p.value) for p in self.params]
        self._v = [np.zeros_like(p.value) for p in self.params]

    def step(self):
        """One Adam update of every parameter from its current gradient."""
        self.t += 1
        bias1 = 1.0 - self.beta1 ** self.t
        bias2_sqrt = math.sqrt(1.0 - self.beta2 ** self.t)
        step_size = self.lr / bias1
        for (_, value, grad), m, v in zip(self.params, self._m, self._v):
            m *= self.beta1
            m += (1.0 - self.beta1) * grad
            v *= self.beta2
            v += (1.0 - self.beta2) * grad * grad
            denom = np.sqrt(v)
            denom /= bias2_sqrt
            denom += self.eps
            value -= step_size * (m / denom)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get(name, params, **kwargs):
    """An optimizer by name ("sgd" or "adam") over ``params``, e.g. ``get("sgd", net, lr=0.1)``."""
    return OPTIMIZERS[_validate.choice("optimizer", name, OPTIMIZERS)](params, **kwargs)
