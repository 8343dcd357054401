"""A feed-forward network: a list of layers run forward, then backward in reverse.

``mlp([784, 100, 10], activation="sigmoid", init="xavier", rng=rng)`` builds
Dense(784→100) → sigmoid → Dense(100→10); the last Dense outputs logits for the loss.
"""
import numpy as np

from . import _validate, activations
from .layers import Activation, Dense, Param  # noqa: F401  (Param: the type parameters() returns)


class Network:
    """Layers applied in order. Dense layers are named fc1, fc2, … in their order.

    After ``forward(X)``:
      ``preactivations[k]`` is Z of the k-th Dense layer (B, n_k) and ``outputs[k]`` is what follows it:
      f(Z) for a hidden layer, Z itself for the last layer (logits). Both are valid until the next forward.
    """

    def __init__(self, layers):
        self.layers = list(layers)
        self.dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if not self.layers or not isinstance(self.layers[0], Dense):
            raise ValueError("a Network starts with a Dense layer (its input is data)")
        for prev, nxt in zip(self.dense, self.dense[1:]):
            if prev.out_features != nxt.in_features:
                raise ValueError(f"layer sizes do not chain: {prev!r} is followed by {nxt!r}")
        dtypes = {layer.dtype for layer in self.dense}
        if len(dtypes) != 1:
            raise ValueError(f"all Dense layers must share one dtype, got {sorted(d.__name__ for d in dtypes)}")
        self.dtype = dtypes.pop()
        self.in_features = self.dense[0].in_features
        self.out_features = self.dense[-1].out_features
        self.preactivations = [None] * len(self.dense)
        self.outputs = [None] * len(self.dense)

    def __repr__(self):
        return "Network([" + ", ".join(map(repr, self.layers)) + "])"

    def forward(self, X):
        """X (B, in) → network output (B, out): the logits (a new array; the layers' caches stay inside)."""
        X = _validate.finite("X", _validate.batch("X", X, self.in_features, self.dtype))
        return self._forward(X).copy()

    def _forward(self, X):
        """``forward`` without the O(B·in) finiteness check and the copy: for loops whose data was checked once.

        Returns the last layer's own output array, which the next forward overwrites.
        """
        out, k = X, -1
        for layer in self.layers:
            out = layer.forward(out)
            if isinstance(layer, Dense):       # a Dense starts slot k: its Z (also A until an activation follows)
                k += 1
                self.preactivations[k] = out
            self.outputs[k] = out
        return out

    def backward(self, dout, need_dX=False, sgd_lr=None):
        """dout (B, out) = ∂L/∂output → sets every parameter gradient; returns ∂L/∂X if ``need_dX``.

        Gradients are set, not accumulated: calling backward twice after one forward gives the same result.
        ``sgd_lr``: plain SGD fused into the Dense layers' backward (see ``Dense.backward``); gradients are not set.
        """
        grad = dout
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad, sgd_lr=sgd_lr) if isinstance(layer, Dense) else layer.backward(grad)
        dX = self.layers[0].backward(grad, need_dX=need_dX, sgd_lr=sgd_lr)    # the input is data: dX on request
        return None if dX is None else dX.copy()

    def parameters(self):
        """[Param(name, value, grad)] for every parameter, named 'fc1.W', 'fc1.b', 'fc2.W', …."""
        return [p._replace(name=f"fc{k + 1}.{p.name}") for k, layer in enumerate(self.dense) for p in layer.parameters()]

    def predict(self, X):
        """Predicted class per row of X: argmax of the logits, (B,) int64."""
        return self.forward(X).argmax(axis=1)

    def get_weights(self):
        """{name: copy of the parameter} — a snapshot that later training does not change."""
        return {p.name: p.value.copy() for p in self.parameters()}

    def set_weights(self, weights):
        """Copy parameter values in from a ``get_weights()`` dict (shapes must match)."""
        for p in self.parameters():
            if p.name not in weights:
                raise ValueError(f"weights has no entry {p.name!r}")
            if np.shape(weights[p.name]) != p.value.shape:
                raise ValueError(f"{p.name} must have shape {p.value.shape}, got {np.shape(weights[p.name])}")
            p.value[...] = weights[p.name]

    @property
    def products(self):
        """The product backend of the Dense layers (``npnet.products.Blas``, ``ScipyBlas`` or ``Exact``), or None if
        they differ."""
        backends = {layer.products for layer in self.dense}
        return backends.pop() if len(backends) == 1 else None


def _per_layer(name, value, n):
    """Broadcast a single spec to n layers, or check a per-layer list has n entries."""
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"{name} is a list of {len(value)} entries; it needs one per layer ({n})")
        return value
    return [value] * n


def mlp(sizes, activation="relu", init="he_normal", bias_init=None, *, rng, dtype=np.float64, products="blas",
        relu_grad_at_zero=0.0):
    """A multilayer perceptron: Dense → activation → … → Dense (logits).

    Parameters
    ----------
    sizes : list of int, e.g. [784, 100, 10]: input width, hidden widths, number of outputs.
    activation : str or list of str (one per hidden layer): "sigmoid", "tanh", "relu" or "identity".
    init : initializer spec or a list with one per Dense layer, e.g. ``["zeros", "he_normal"]`` makes only the
        first layer zero. A spec is a name, ``(name, params)``, or a callable (see ``npnet.init.get``).
    bias_init : spec or list; default ``None`` means zeros, except that ``init="torch_default"`` also gives the
        bias PyTorch's U(±1/√fan_in).
    rng : np.random.Generator — every random draw comes from it, layer by layer, W before b.
    dtype : np.float64 (default) or np.float32, for parameters and every computation.
    products : "blas" (fast), "exact" (units with equal weights stay bitwise equal) or "scipy_blas" (fast, and allows
        ``SGD(fused=True)``); see ``npnet.products``.
    relu_grad_at_zero : relu'(0), 0 by default as in PyTorch.
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ValueError(f"sizes must be a list of at least 2 layer widths, e.g. [784, 100, 10]; got {sizes!r}")
    sizes = [_validate.positive_int("sizes entries", n) for n in sizes]
    _validate.generator("rng", rng)
    n_dense = len(sizes) - 1
    weight_inits = _per_layer("init", init, n_dense)
    if bias_init is None:
        bias_init = [w if isinstance(w, str) and w == "torch_default" else "zeros" for w in weight_inits]
    bias_inits = _per_layer("bias_init", bias_init, n_dense)
    acts = _per_layer("activation", activation, n_dense - 1)
    for a in acts:
        activations.check_name(a)
    layers = []
    for k in range(n_dense):
        layers.append(Dense(sizes[k], sizes[k + 1], weight_init=weight_inits[k], bias_init=bias_inits[k],
                            rng=rng, dtype=dtype, products=products))
        if k < n_dense - 1:
            layers.append(Activation(acts[k], relu_grad_at_zero=relu_grad_at_zero))
    return Network(layers)
