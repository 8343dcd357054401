"""Complex-step derivatives: ∂L/∂θ = Im L(θ + ih) / h, with no subtraction and so no cancellation error.

A difference quotient subtracts two nearly equal losses and loses digits to round-off (``npnet.gradcheck``); the
complex step does not subtract, so h = 1e-20 gives the derivative to machine precision. It needs L to be analytic:
Dense layers with sigmoid, tanh or identity activations (ReLU is not), and the softmax cross-entropy or MSE loss.
L is computed by ``npnet.reference``'s forward functions on complex copies of the parameters, an independent second
implementation of the forward pass; the network itself is only read.
"""
import numpy as np

from . import losses, reference
from .layers import Activation, Dense
from .network import require_network

#: activations whose formulas are analytic, so that the complex step applies
ANALYTIC = ("sigmoid", "tanh", "identity")


class ComplexStep:
    """Complex-step derivatives of a smooth network's loss at (X, y) (see the module docstring)."""

    def __init__(self, net, X, y, loss="softmax_cross_entropy"):
        require_network(net)
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
