"""Layers: ``Dense`` (Z = X Wᵀ + b) and ``Activation`` (A = f(Z)), each with its backward below its forward.

Contract (as in CS231n's layers): ``forward`` caches what ``backward`` needs; ``backward(dout)`` returns the
gradient with respect to the layer's input and *sets* (never accumulates) the gradients of its parameters, so a
second backward on the same forward gives the same gradients. ``backward`` never modifies ``dout``.

Speed: each layer writes its outputs (Z, A, dZ, dX) into arrays it owns and reuses from one step to the next
(``npnet._scratch.buffer``), and its gradients into dW and db in place, so the large arrays of a training step are not
reallocated per step. An array returned by ``forward`` or ``backward`` is therefore overwritten by the layer's
next call: copy it to keep it.
"""
import functools
from collections import namedtuple

import numpy as np

from . import _validate, activations, init
from . import products as _products
from ._scratch import buffer

Param = namedtuple("Param", "name value grad")
Param.__doc__ = ("A parameter array and its gradient array (both updated in place): ('W', W, dW) from a layer, "
                 "('fc1.W', W, dW) from a Network.")


class Dense:
    """Fully connected layer, Z = X Wᵀ + b.

    Parameters
    ----------
    in_features, out_features : int
    weight_init, bias_init : initializer spec (see ``npnet.init.get``). The layer's own default is Xavier
        uniform; ``mlp`` chooses per network (He normal by default, for ReLU). ``init=`` is another name for
        ``weight_init``.
    rng : np.random.Generator or an int seed
        Used for the random initializers (zeros/ones/constant do not draw).
    dtype : np.float64 (default) or np.float32
    products : "blas" (default), "exact" or "scipy_blas"
        The matrix-product backend (``npnet.products``); "exact" makes units with equal weights get bitwise-equal
        outputs and gradients; "scipy_blas" allows the fused SGD step. The attribute ``products`` holds the backend
        itself (``.name`` is the string).

    Attributes
    ----------
    W : (out, in)   row i = the incoming weights of unit i
    b : (out,)
    dW, db : gradients of the loss with respect to W and b, set by ``backward``
    """

    def __init__(self, in_features, out_features, *, weight_init=None, bias_init="zeros", rng=None,
                 dtype=np.float64, products="blas", init=None):
        weight_init = _validate.init_keyword(weight_init, init, "xavier_uniform")
        if rng is not None:
            rng = _validate.generator("rng", rng)   # W and b draw from one Generator, also from an int seed
        self.in_features = _validate.positive_int("in_features", in_features)
        self.out_features = _validate.positive_int("out_features", out_features)
        self.dtype = _validate.dtype(dtype)
        self.products = _products.get(products)
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
        """X (B, in) → Z (B, out),  Z = X Wᵀ + b  (z_bi = Σ_j x_bj W_ij + b_i)."""
        X = _validate.batch("X", X, self.in_features, self.dtype)
        self._X = X                                                  # kept for dW = δᵀX
        Z = buffer(self._buffers, "Z", (len(X), self.out_features), self.dtype)
        self.products.matmul(X, self.W.T, out=Z)                     # (B, in) @ (in, out) → (B, out)
        Z += self.b                                                  # b (out,) added to every row
        return Z

    def backward(self, dZ, need_dX=True, sgd_lr=None):
        """δ = dZ (B, out) = ∂L/∂Z  →  dX (B, in), and sets dW, db.

        Since z_bi = Σ_j x_bj W_ij + b_i:
            dW = δᵀ X     (out, in)   ∂L/∂W_ij = Σ_b δ_bi x_bj
            db = Σ_b δ_b  (out,)      ∂L/∂b_i  = Σ_b δ_bi
            dX = δ W      (B, in)     ∂L/∂x_bj = Σ_i δ_bi W_ij
        ``need_dX=False`` skips dX for the first layer, whose input is data.
        ``sgd_lr`` (plain SGD's fast path, used by ``train``; "scipy_blas" only): instead of setting dW and db,
        apply W ← W − lr·δᵀX and b ← b − lr·Σ_b δ_b directly; dW and db are left as they were.
        """
        if self._X is None:
            raise RuntimeError("Dense.backward called before forward")
        dZ = _gradient("dZ", dZ, self.dtype)
        if dZ.shape != (self._X.shape[0], self.out_features):
            raise ValueError(f"dZ must have shape {(self._X.shape[0], self.out_features)}, got {dZ.shape}")
        products = self.products
        dX = None
        if need_dX:   # first, as it needs W before the fused update below
            dX = buffer(self._buffers, "dX", self._X.shape, self.dtype)
            products.matmul(dZ, self.W, out=dX)                            # dX = δW: (B, out) @ (out, in)
        if sgd_lr is None:
            products.matmul(dZ.T, self._X, out=self.dW)                    # dW = δᵀX: (out, B) @ (B, in)
            products.colsum(dZ, out=self.db)                               # db = Σ_b δ_b: (out,)
        else:  # fused SGD: GEMM's C ← α·δᵀX + β·C with C = W, β = 1, α = −lr updates W with no dW written
            products.matmul(dZ.T, self._X, out=self.W, alpha=-sgd_lr, beta=1.0)
            products.colsum(dZ, out=self.b, alpha=-sgd_lr, beta=1.0)
        return dX

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
        dA = _gradient("dA", dA, self._Z.dtype)
        if dA.shape != self._Z.shape:
            raise ValueError(f"dA must have the shape of the last forward's input {self._Z.shape}, got {dA.shape}")
        dZ = buffer(self._buffers, "dZ", dA.shape, dA.dtype)
        if np.may_share_memory(dA, dZ):   # dA is this layer's own last result: write elsewhere, never into dout
            dZ = np.empty_like(dZ)
        grad = self.f_grad(self._A if self.grad_takes == "a" else self._Z, out=dZ)
        return np.multiply(dA, grad, out=dZ)   # f'(·) is written into dZ's buffer, then scaled: no temporaries

    def parameters(self):
        """An activation has no parameters."""
        return []


def _gradient(name, value, dtype):
    """A backward's incoming gradient as an array of the layer's dtype (a list or int array is converted)."""
    if type(value) is np.ndarray and value.dtype == dtype:
        return value   # the training loop's case, checked cheaply
    value = np.asarray(value)
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    return value.astype(dtype, copy=False)


def _initial(arg, spec, shape, rng, fan):
    """Draw a parameter with ``npnet.init``, checking that a custom initializer honoured shape and dtype and
    returned finite numbers (a NaN weight would only show up later, as a wrong accuracy)."""
    value = np.asarray(init.initialize(spec, shape, rng, **fan))
    if value.shape != shape:
        raise ValueError(f"{arg} {spec!r} returned shape {value.shape}, expected {shape}")
    if value.dtype.kind not in "fiu":
        raise TypeError(f"{arg} {spec!r} returned dtype {value.dtype}, expected real numbers")
    return _validate.finite(f"{arg} {spec!r} result", value.astype(fan["dtype"], copy=False))
