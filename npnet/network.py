"""A feed-forward network: a list of layers run forward, then backward in reverse.

``mlp([784, 100, 10], activation="sigmoid", weight_init="xavier", rng=0)`` builds
Dense(784→100) → sigmoid → Dense(100→10); the last Dense outputs logits for the loss.
``net.save("net.npz")`` / ``npnet.load("net.npz")`` store and restore a network made by ``mlp``.
"""
import copy
import json
import os

import numpy as np

from . import _validate, activations
from . import init as init_module
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
        """X (B, in) → network output (B, out): the logits (a new array; the layers' caches stay inside).

        A single example ``x (in,)`` gives its output ``(out,)``.
        """
        X = np.asarray(X) if not isinstance(X, np.ndarray) else X
        if X.ndim == 1 and X.shape[0] == self.in_features:
            return self.forward(X[None, :])[0]
        X = _validate.finite("X", _validate.batch("X", X, self.in_features, self.dtype))
        return self._forward(X).copy()

    __call__ = forward

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

    def backward(self, dout, need_dX=True):
        """dout (B, out) = ∂L/∂output of the last forward → sets every parameter gradient and returns ∂L/∂X
        (a new array; None with ``need_dX=False``, which skips the first layer's dX product).

        Gradients are set, not accumulated: calling backward twice after one forward gives the same result.
        """
        last = self.outputs[-1]
        if last is None:
            raise RuntimeError("backward called before forward")
        if np.shape(dout) != last.shape:
            raise ValueError(f"dout must have the shape of the last forward's output {last.shape}, got {np.shape(dout)}")
        dX = self._backward(_validate.batch("dout", dout, self.out_features, self.dtype), need_dX)
        return None if dX is None else dX.copy()

    def _backward(self, dout, need_dX):
        """``backward`` without the checks and the copy: for loops that pass the loss's own gradient."""
        grad = dout
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        return self.layers[0].backward(grad, need_dX=need_dX)      # the input is data: dX only on request

    def parameters(self):
        """[Param(name, value, grad)] for every parameter, named 'fc1.W', 'fc1.b', 'fc2.W', …."""
        return [p._replace(name=f"fc{k + 1}.{p.name}") for k, layer in enumerate(self.dense) for p in layer.parameters()]

    def predict(self, X):
        """Predicted class per row of X: argmax of the logits, (B,) int64 (an int for a single row (in,))."""
        out = self.forward(X)
        return out.argmax(axis=-1) if out.ndim == 2 else int(out.argmax())

    def predict_proba(self, X):
        """softmax of the logits, (B, out) rows summing to 1 ((out,) for a single row): the class probabilities
        of a network trained with softmax cross-entropy."""
        Z = self.forward(X)
        Z -= Z.max(axis=-1, keepdims=True)        # stable: no exp overflows
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=-1, keepdims=True)
        return Z

    def astype(self, dtype):
        """A deep copy of the network computing in ``dtype`` (float64 or float32), parameters converted; the layer
        classes and the product backend are kept, gradients zeroed, no forward cached."""
        twin = copy.deepcopy(self)
        twin.dtype = _validate.dtype(dtype)
        twin.preactivations = [None] * len(twin.dense)
        twin.outputs = [None] * len(twin.dense)
        for layer in twin.layers:       # the cached forward and the reused arrays are of the old dtype: drop them
            layer._buffers = {}
            if isinstance(layer, Dense):
                layer.dtype, layer.W, layer.b = twin.dtype, layer.W.astype(twin.dtype), layer.b.astype(twin.dtype)
                layer.dW, layer.db, layer._X = np.zeros_like(layer.W), np.zeros_like(layer.b), None
            else:
                layer._Z = layer._A = None
        return twin

    def get_weights(self):
        """{name: copy of the parameter} — a snapshot that later training does not change."""
        return {p.name: p.value.copy() for p in self.parameters()}

    def set_weights(self, weights):
        """Copy parameter values in from a ``get_weights()`` dict (names and shapes must match, values finite).

        Nothing is changed unless every entry is valid.
        """
        if not isinstance(weights, dict):
            raise TypeError(f"weights must be a dict {{name: array}} as get_weights() returns, "
                            f"got {type(weights).__name__}")
        params = self.parameters()
        names = {p.name for p in params}
        extra = sorted(set(weights) - names)
        if extra:
            raise ValueError(f"weights has entries this network does not have: {extra}; it has {sorted(names)}")
        checked = {}
        for p in params:
            if p.name not in weights:
                raise ValueError(f"weights has no entry {p.name!r}")
            value = np.asarray(weights[p.name])
            if value.shape != p.value.shape:
                raise ValueError(f"{p.name} must have shape {p.value.shape}, got {value.shape}")
            if value.dtype.kind not in "fiu":
                raise TypeError(f"{p.name} must hold real numbers, got dtype {value.dtype}")
            checked[p.name] = _validate.finite(p.name, value)
        for p in params:
            p.value[...] = checked[p.name]

    def save(self, path):
        """Write the network to ``path`` (.npz, no pickles): sizes, activations, dtype, products and weights.

        Works for networks of the ``mlp`` form (Dense → activation → … → Dense); ``npnet.load`` reads it back.
        """
        spec = self._spec()
        from ._io import atomic_write
        arrays = {f"weight:{name}": value for name, value in self.get_weights().items()}
        atomic_write(os.fspath(path), lambda f: np.savez(f, spec=np.array(json.dumps(spec)), **arrays))

    def _spec(self):
        acts, relu0 = [], 0.0
        for i, layer in enumerate(self.layers):
            expected = Dense if i % 2 == 0 else Activation
            if not isinstance(layer, expected) or isinstance(self.layers[-1], Activation):
                raise ValueError("save handles networks of the mlp form Dense → activation → … → Dense; "
                                 f"this one is {self!r}")
            if isinstance(layer, Activation):
                acts.append(layer.name)
                relu0 = layer.relu_grad_at_zero
        return {"format": SAVE_FORMAT, "sizes": [self.in_features] + [d.out_features for d in self.dense],
                "activations": acts, "dtype": np.dtype(self.dtype).name, "products": self.dense[0].products.name,
                "relu_grad_at_zero": relu0}

    @property
    def products(self):
        """The product backend of the Dense layers (``npnet.products.Blas`` or ``Exact``), or None if
        they differ."""
        backends = {layer.products for layer in self.dense}
        return backends.pop() if len(backends) == 1 else None


SAVE_FORMAT = "npnet.mlp/1"


SPEC_MAX_BYTES = 1 << 20   # the 'spec' member: a few hundred bytes for any sensible network


def load(path):
    """A network saved by ``Network.save``. A file that is not one gives a ValueError naming the file and saying
    what is wrong (a missing file, FileNotFoundError).

    The file is read as untrusted input: only a regular file is opened; the 'spec' member is read first, then every
    weight's declared shape and dtype are checked against it before any weight is decompressed; members the spec
    does not describe are refused, and sizes the machine cannot hold are refused before they are allocated.
    """
    from ._io import ARCHIVE_ERRORS, NpzArchive
    try:
        with NpzArchive(os.fspath(path)) as archive:
            spec, shapes = _read_spec(archive)
            dtype = np.dtype(spec["dtype"])
            for name, shape in shapes.items():   # headers only: nothing is decompressed before every one is right
                got_shape, got = archive.header(name)
                if got_shape != shape or got.kind != "f" or got.itemsize != dtype.itemsize:
                    raise ValueError(f"member {name!r} is {got} {got_shape}; the spec says {dtype} {shape}")
            net = mlp(spec["sizes"], spec["activations"] or "identity", "zeros", dtype=spec["dtype"],
                      products=spec["products"], relu_grad_at_zero=spec["relu_grad_at_zero"])
            weights = {name.split(":", 1)[1]: archive.array(name) for name in shapes}
    except FileNotFoundError:
        raise
    except RecursionError:
        raise ValueError(f"{path} is not a saved npnet network: its 'spec' is nested too deeply") from None
    except ARCHIVE_ERRORS as exc:
        raise ValueError(f"{path} is not a saved npnet network (.npz): {exc}") from None
    try:
        net.set_weights(weights)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} does not match the network it describes: {exc}") from None
    return net


def _read_spec(archive):
    """The archive's 'spec' (checked) and {member name: shape} of the weights it describes; refuses other members."""
    if "spec" not in archive.members:
        raise ValueError("bad or missing 'spec': no 'spec' member")
    shape, dtype = archive.header("spec")
    if shape != () or dtype.kind != "U" or archive.members["spec"].file_size > SPEC_MAX_BYTES:
        raise ValueError(f"bad or missing 'spec': a {dtype} array of shape {shape}, not one JSON string of at most "
                         f"{SPEC_MAX_BYTES:,} bytes")
    try:
        spec = json.loads(str(archive.array("spec")))
        if not isinstance(spec, dict):
            raise ValueError(f"a JSON {type(spec).__name__}, not an object")
        if spec.get("format") != SAVE_FORMAT:
            raise ValueError(f"format {spec.get('format')!r}, expected {SAVE_FORMAT!r}")
        missing = sorted({"sizes", "activations", "dtype", "products", "relu_grad_at_zero"} - set(spec))
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        sizes = _validate.layer_sizes(spec["sizes"])
        _validate.dtype(spec["dtype"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad or missing 'spec' ({exc})") from None
    shapes = {}
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        shapes[f"weight:fc{k}.W"] = (n_out, n_in)
        shapes[f"weight:fc{k}.b"] = (n_out,)
    unknown = sorted(set(archive.members) - set(shapes) - {"spec"})
    if unknown:
        raise ValueError(f"members the spec does not describe: {', '.join(map(repr, unknown))}")
    missing = [name for name in shapes if name not in archive.members]
    if missing:
        raise ValueError(f"no member {missing[0]!r}, which the spec describes")
    return spec, shapes


def _per_layer(name, value, n):
    """Broadcast a single spec to n layers, or check a per-layer list has n entries."""
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"{name} is a list of {len(value)} entries; it needs one per layer ({n})")
        return value
    return [value] * n


def mlp(sizes, activation="relu", weight_init=None, bias_init=None, *, rng=None, dtype=np.float64,
        products="blas", relu_grad_at_zero=0.0, init=None):
    """A multilayer perceptron: Dense → activation → … → Dense (logits).

    Parameters
    ----------
    sizes : list of int, e.g. [784, 100, 10]: input width, hidden widths, number of outputs.
    activation : str or list of str (one per hidden layer): "sigmoid", "tanh", "softsign", "relu" or "identity".
    weight_init : initializer spec or a list with one per Dense layer (default ``npnet.init.DEFAULT``, "he_normal",
        as for ``Dense``), e.g.
        ``["zeros", "he_normal"]`` makes only the first layer zero. A spec is a name, ``(name, params)``,
        ``(name, number)`` or a callable (see ``npnet.init.get``). ``init=`` is accepted as another name for it
        (the spelling of earlier versions); ``Dense`` uses the same keyword.
    bias_init : spec or list; default ``None`` means zeros, except that ``weight_init="torch_default"`` also gives
        the bias PyTorch's U(±1/√fan_in).
    rng : np.random.Generator or an int seed — every random draw comes from it, layer by layer, W before b. Only
        needed when an initializer draws (``"zeros"``, ``"ones"``, ``"constant"`` do not).
    dtype : np.float64 (default) or np.float32, for parameters and every computation.
    products : "blas" (fast) or "exact" (units with equal weights stay bitwise equal); see ``npnet.products``.
    relu_grad_at_zero : relu'(0), 0 by default as in PyTorch.
    """
    weight_init = _validate.init_keyword(weight_init, init, init_module.DEFAULT)
    sizes = _validate.layer_sizes(sizes)
    itemsize = np.dtype(_validate.dtype(dtype)).itemsize
    n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes, sizes[1:]))
    largest = max(n_out * n_in for n_in, n_out in zip(sizes, sizes[1:]))
    _validate.allocatable(f"mlp sizes {sizes} ({n_params:,} parameters, their gradients and an initial draw)",
                          2 * n_params * itemsize + 8 * largest)
    if rng is not None:
        rng = _validate.generator("rng", rng)   # one Generator for every layer, also from an int seed
    n_dense = len(sizes) - 1
    weight_inits = _per_layer("weight_init", weight_init, n_dense)
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


def require_network(net, name="net"):
    """``net`` itself if it is a Network, else the one-line TypeError of ``train``, ``evaluate`` and ``gradcheck``."""
    if not isinstance(net, Network):
        raise TypeError(f"{name} must be a Network (npnet.mlp(...) builds one), got {type(net).__name__}")
    return net
