"""Activation functions f and their derivatives f', in name → function tables.

Each derivative says which argument it takes: ``sigmoid_grad``, ``tanh_grad`` and ``softsign_grad`` take the
*output* a = f(z), because a(1 − a), 1 − a² and (1 − |a|)² are cheaper than recomputing f; ``relu_grad`` and
``identity_grad`` take the *pre-activation* z, because ReLU's derivative must look at the sign of z (a = 0 cannot
tell z = 0 from z < 0).

ReLU is not differentiable at z = 0. Its derivative there is a convention: ``relu_grad(z, at_zero=0.0)``
follows PyTorch (relu'(0) = 0); pass ``at_zero=1.0`` for the other common choice. The symmetry experiment shows
the choice matters when every pre-activation is exactly 0 (an all-zero network).
"""
import numpy as np

from . import _validate


def sigmoid(z, out=None):
    """σ(z) = 1 / (1 + e^{−z}), computed without overflow.

    For z ≥ 0 use 1 / (1 + e^{−z}); for z < 0 the equal form e^{z} / (1 + e^{z}). Both only ever
    exponentiate −|z| ≤ 0, so |z| up to 1e4 (or more) raises no overflow warning.
    """
    e = np.exp(-np.abs(z))            # in (0, 1]: never overflows
    r = 1.0 / (1.0 + e)
    if out is None:
        return np.where(z >= 0, r, e * r)
    np.copyto(out, np.where(z >= 0, r, e * r))
    return out


def sigmoid_grad(a, out=None):
    """σ'(z) written in the output a = σ(z):  σ' = a (1 − a); at most 0.25, at z = 0."""
    if out is None:
        return a * (1.0 - a)
    np.subtract(1.0, a, out=out)
    out *= a
    return out


def tanh(z, out=None):
    """tanh(z)."""
    return np.tanh(z, out=out)


def tanh_grad(a, out=None):
    """tanh'(z) written in the output a = tanh(z):  tanh' = 1 − a²; at most 1, at z = 0."""
    if out is None:
        return 1.0 - a * a
    np.multiply(a, a, out=out)
    return np.subtract(1.0, out, out=out)


def softsign(z, out=None):
    """softsign(z) = z / (1 + |z|) (Glorot & Bengio 2010): like tanh, odd, in (−1, 1), slope 1 at 0, but it
    approaches ±1 polynomially (1 − |a| = 1/(1 + |z|)) rather than exponentially, so it saturates more gently."""
    if out is None:
        return z / (1.0 + np.abs(z))
    np.abs(z, out=out)
    out += 1.0
    return np.divide(z, out, out=out)


def softsign_grad(a, out=None):
    """softsign'(z) = 1 / (1 + |z|)² written in the output a = softsign(z):  1 + |z| = 1 / (1 − |a|), so
    softsign' = (1 − |a|)²; at most 1, at z = 0."""
    if out is None:
        return (1.0 - np.abs(a)) ** 2
    np.abs(a, out=out)
    np.subtract(1.0, out, out=out)
    return np.multiply(out, out, out=out)


def relu(z, out=None):
    """relu(z) = max(z, 0)."""
    return np.maximum(z, 0, out=out)


def relu_grad(z, at_zero=0.0, out=None):
    """relu'(z) from the pre-activation z: 1 for z > 0, 0 for z < 0, ``at_zero`` at z = 0 exactly."""
    if out is None:
        out = np.empty_like(z)
    np.greater(z, 0, out=out)           # True/False written as 1.0/0.0 straight into the float array
    if at_zero:
        out[z == 0] = at_zero
    return out


def identity(z, out=None):
    """f(z) = z (the output layer's 'activation': logits go straight into the loss)."""
    if out is None:
        return z
    np.copyto(out, z)
    return out


def identity_grad(z, out=None):
    """f'(z) = 1."""
    if out is None:
        return np.ones_like(z)
    out.fill(1)
    return out


def leaky_relu(z, slope=0.01):
    """max(z, 0) + slope·min(z, 0), PyTorch's default slope 0.01. Forward only: no layer uses it (the depth
    experiment's gain study measures it)."""
    return np.where(z > 0, z, slope * z)


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805   # Klambauer et al. 2017


def selu(z):
    """scale·(z if z > 0 else α(e^z − 1)) (Klambauer et al. 2017). Forward only, like ``leaky_relu``."""
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


#: name → f(z, out=None); ``out`` is an optional array to write the result into (the layers reuse one)
ACTIVATIONS = {"sigmoid": sigmoid, "tanh": tanh, "softsign": softsign, "relu": relu, "identity": identity}
#: name → (f'(arg, out=None), which argument f' takes: "a" the output or "z" the pre-activation)
DERIVATIVES = {
    "sigmoid": (sigmoid_grad, "a"),
    "tanh": (tanh_grad, "a"),
    "softsign": (softsign_grad, "a"),
    "relu": (relu_grad, "z"),
    "identity": (identity_grad, "z"),
}


def check_name(name):
    """Return ``name`` if it names an activation, else raise ValueError listing the valid names."""
    return _validate.choice("activation", name, ACTIVATIONS)


def saturated(name, a, tol=0.01):
    """Boolean mask of saturated outputs (where f' is nearly 0 because |z| is large), or None.

    sigmoid: a < tol or a > 1 − tol;  tanh and softsign: |a| > 1 − tol (for softsign that is |z| > 1/tol − 1,
    far out: it saturates late).  ReLU and identity do not saturate this way
    (a dead ReLU is reported as 'fraction of zeros' instead), so they return None.
    """
    if name == "sigmoid":
        return (a < tol) | (a > 1.0 - tol)
    if name in ("tanh", "softsign"):
        return np.abs(a) > 1.0 - tol
    return None
