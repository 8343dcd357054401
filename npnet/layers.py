"""Layers: ``Dense`` (Z = X Wᵀ + b) and ``Activation`` (A = f(Z)), each with its backward below its forward.

Contract (as in CS231n's layers): ``forward`` caches what ``backward`` needs; ``backward(dout)`` returns the
gradient with respect to the layer's input and *sets* (never accumulates) the gradients of its parameters, so a
second backward on the same forward gives the same gradients. ``backward`` never modifies ``dout``.

Speed: each layer writes its outputs (Z, A, dZ, dX) into arrays it owns and reuses from one step to the next
(``Dense._matmul``, ``npnet._scratch.buffer``), and its gradients into dW and db in place, so the large arrays of a
training step are not reallocated per step. An array returned by ``forward`` or ``backward`` is therefore overwritten
by the layer's next call: copy it to keep it. Layers do not check their arguments (the training loop calls them
every step): ``Network.forward`` and ``Network.backward``, ``train`` and ``gradcheck`` check data where it enters.
"""
import functools
from collections import namedtuple

import numpy as np

from . import _validate, activations
from . import init as init_module
from . import products as backends
from ._scratch import buffer

Param = namedtuple("Param", "name value grad")
Param.__doc__ = ("A parameter array and its gradient array (both updated in place): ('W', W, dW) from a layer, "
                 "('fc1.W', W, dW) from a Network.")


class Dense:
    """Fully connected layer, Z = X Wᵀ + b.

    Parameters
    ----------
    in_features, out_features : int
    weight_init, bias_init : initializer spec (see ``npnet.init.get``); the weights' default is
        ``npnet.init.DEFAULT`` (He normal), as in ``mlp``. ``init=`` is another name for ``weight_init``.
    rng : np.random.Generator or an int seed
        Used for the random initializers (zeros/ones/constant do not draw).
    dtype : np.float64 (default) or np.float32
    products : "blas" (default) or "exact"
        The matrix-product backend (``npnet.products``); "exact" makes units with equal weights get bitwise-equal
        outputs and gradients. The attribute ``products`` holds the backend itself (``.name`` is the string).

    Attributes
    ----------
    W : (out, in)   row i = the incoming weights of unit i
    b : (out,)
    dW, db : gradients of the loss with respect to W and b, set by ``backward``

    ``forward`` and ``backward`` take arrays of the layer's dtype and shape and do not check them: they run in the
    training loop, and ``Network.forward``, ``train`` and ``gradcheck`` check data once where it enters.
    """

    def __init__(self, in_features, out_features, *, weight_init=None, bias_init="zeros", rng=None,
                 dtype=np.float64, products="blas", init=None):
        weight_init = _validate.init_keyword(weight_init, init, init_module.DEFAULT)
        if rng is not None:
            rng = _validate.generator("rng", rng)   # W and b draw from one Generator, also from an int seed
        self.in_features = _validate.positive_int("in_features", in_features)
        self.out_features = _validate.positive_int("out_features", out_features)
        self.dtype = _validate.dtype(dtype)
        self.products = backends.get(products)
        fan = dict(dtype=self.dtype, fan_in=self.in_features, fan_out=self.out_features)
        self.W = _initial("weight_init", weight_init, (self.out_features, self.in_features), rng, fan)
        self.b = _initial("bias_init", bias_init, (self.out_features,), rng, fan)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._X = None
        self._buffers = {}

    def __repr__(self):
        return f"Dense({self.in_features}, {self.out_features}, products={self.products.name!r})"

    def forward(self, X):
        """X (B, in) → Z (B, out),  Z = X Wᵀ + b."""
        self._X = X                                            # kept for dW = δᵀX
        Z = self._matmul("Z", X, self.W.T)                     # z_bi = Σ_j x_bj W_ij     (B, in) @ (in, out)
        Z += self.b                                            #        + b_i             b broadcast over rows
        return Z

    def backward(self, dZ, need_dX=True):
        """δ = dZ (B, out) = ∂L/∂Z  →  dX (B, in) = ∂L/∂X; sets dW and db.

        ``need_dX=False`` skips the dX product (the first layer's input is data) and returns None.
        """
        if self._X is None:
            raise RuntimeError("Dense.backward called before forward")
        self.products.matmul(dZ.T, self._X, out=self.dW)       # dW = δᵀX:  ∂L/∂W_ij = Σ_b δ_bi x_bj   (out, in)
        self.products.colsum(dZ, out=self.db)                  # db = Σ_b δ: ∂L/∂b_i  = Σ_b δ_bi        (out,)
        return self._matmul("dX", dZ, self.W) if need_dX else None   # dX = δW: ∂L/∂x_bj = Σ_i δ_bi W_ij  (B, in)

    def _matmul(self, key, A, B):
        """A @ B by the layer's backend, written into the layer's reused array ``key`` (see the module docstring)."""
        return self.products.matmul(A, B, out=buffer(self._buffers, key, (A.shape[0], B.shape[1]), self.dtype))

    def parameters(self):
        """[Param(name, value, grad)] for W and b; the arrays are updated in place by training."""
        return [Param("W", self.W, self.dW), Param("b", self.b, self.db)]


class Activation:
    """Elementwise nonlinearity A = f(Z); backward multiplies by f'(Z).

    ``relu_grad_at_zero`` is the value used for relu'(0) (default 0, as PyTorch); it is bound into ``f_grad`` here,
    so ``backward`` treats every activation alike.
    """

    def __init__(self, name, *, relu_grad_at_zero=0.0):
        self.name = activations.check_name(name)
        self.relu_grad_at_zero = _validate.real("relu_grad_at_zero", relu_grad_at_zero)
        self.f = activations.ACTIVATIONS[name]
        self.f_grad, self.grad_takes = activations.DERIVATIVES[name]
        if name == "relu":  # relu' also needs the chosen value at exactly 0
            self.f_grad = functools.partial(self.f_grad, at_zero=self.relu_grad_at_zero)
        self._Z = self._A = None
        self._buffers = {}

    def __repr__(self):
        return f"Activation({self.name!r})"

    def forward(self, Z):
        """Z (B, n) → A = f(Z) (B, n)."""
        self._Z = Z
        self._A = self.f(Z, out=buffer(self._buffers, "A", Z.shape, Z.dtype))
        return self._A

    def backward(self, dA):
        """dA (B, n) = ∂L/∂A  →  dZ = dA ⊙ f'(Z)  (B, n)   (elementwise chain rule).

        f'(Z) is evaluated from the cached output A for sigmoid and tanh (a(1 − a), 1 − a²) and from Z otherwise.
        """
        if self._Z is None:
            raise RuntimeError("Activation.backward called before forward")
        dZ = buffer(self._buffers, "dZ", dA.shape, dA.dtype)
        if np.may_share_memory(dA, dZ):   # dA is this layer's own last result: write elsewhere, never into dout
            dZ = np.empty_like(dZ)
        grad = self.f_grad(self._A if self.grad_takes == "a" else self._Z, out=dZ)   # f'(Z), written into dZ
        return np.multiply(dA, grad, out=dZ)                                          # dZ = dA ⊙ f'(Z)

    def parameters(self):
        """An activation has no parameters."""
        return []


def _initial(arg, spec, shape, rng, fan):
    """Draw a parameter with ``npnet.init``, checking that a custom initializer honoured shape and dtype and
    returned finite numbers (a NaN weight would only show up later, as a wrong accuracy)."""
    value = np.asarray(init_module.initialize(spec, shape, rng, **fan))
    if value.shape != shape:
        raise ValueError(f"{arg} {spec!r} returned shape {value.shape}, expected {shape}")
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{arg} {spec!r} returned dtype {value.dtype}, expected real numbers")
    return _validate.finite(f"{arg} {spec!r} result", value.astype(fan["dtype"], copy=False))
