"""Weight initializers: pure functions of (shape, rng, …) that return a new array.

Every initializer has the signature ``f(shape, rng, *, dtype=np.float64, fan_in=None, fan_out=None, **params)``.
Weights use npnet's layout ``W (out, in)``, so for a 2-D shape fan_in = shape[1] and fan_out = shape[0]. A bias has
shape (out,) and no fans of its own: the layer passes its weight's fans, so that ``torch_default`` can give the
bias the U(±1/√fan_in) that ``torch.nn.Linear`` uses. Random draws are made in float64 and then rounded to
``dtype``, so a float32 network starts from its float64 twin's weights, rounded.

Names. The full names say the distribution: ``xavier_uniform``, ``xavier_normal``, ``he_normal``, ``he_uniform``,
``lecun_normal`` (``glorot_*`` and ``kaiming_*`` are the same functions). The rule for the short names: **a short name
is the draw its paper published.** So ``xavier``/``glorot`` are *uniform* (Glorot & Bengio 2010's "normalized
initialization", eq. 16) and ``he``/``kaiming`` are *normal* (He et al. 2015, N(0, 2/fan_in)), and ``lecun`` is
normal (LeCun et al. 1998). He init is for ReLU by default (PyTorch's defaults to leaky_relu, which surprises
people; npnet's does not). LeCun is not Xavier: LeCun uses fan_in only. When the distribution matters, write the
full name; the experiments do.

``DEFAULT`` ("he_normal") is the weights' default in both ``Dense`` and ``mlp``: ReLU is the default activation.
"""
import functools
import math
import numbers

import numpy as np

from . import _validate

DEFAULT = "he_normal"

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}


def calculate_gain(nonlinearity, param=None):
    """Recommended scale for a nonlinearity, the table of ``torch.nn.init.calculate_gain``.

    ========== ======================
    linear     1
    identity   1
    sigmoid    1
    tanh       5/3
    relu       √2
    leaky_relu √(2 / (1 + a²)), a = ``param`` (default 0.01)
    selu       3/4
    ========== ======================
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, numbers.Real):
            raise TypeError(f"param (negative slope) must be a real number, got {param!r}")
        return math.sqrt(2.0 / (1.0 + float(slope) ** 2))
    _validate.choice("nonlinearity", nonlinearity, [*_GAINS, "leaky_relu"])
    return _GAINS[nonlinearity]


def fans(shape, fan_in=None, fan_out=None):
    """(fan_in, fan_out) of a tensor in the (out, in) layout, or the fans given explicitly (needed for biases)."""
    if fan_in is None or fan_out is None:
        if len(shape) < 2:
            raise ValueError(f"cannot compute fans of a {len(shape)}-D shape {shape}; pass fan_in and fan_out")
        receptive = int(np.prod(shape[2:], dtype=np.int64))  # 1 for a Dense weight
        fan_in = shape[1] * receptive if fan_in is None else fan_in
        fan_out = shape[0] * receptive if fan_out is None else fan_out
    return fan_in, fan_out


def _shape(shape):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    # Python ints: fans multiply entries, and NumPy integers (uint8, say) would overflow
    return tuple(_validate.positive_int("shape entries", n) for n in shape)


def _normal(shape, rng, mean, std, dtype):
    rng = _validate.generator("rng", rng)
    return rng.normal(mean, std, size=shape).astype(dtype)


def _uniform(shape, rng, low, high, dtype):
    rng = _validate.generator("rng", rng)
    return rng.uniform(low, high, size=shape).astype(dtype)


def zeros(shape, rng=None, *, dtype=np.float64, fan_in=None, fan_out=None):
    """All zeros. Every unit of a layer then starts identical: the symmetry problem."""
    return np.zeros(_shape(shape), dtype=dtype)


def ones(shape, rng=None, *, dtype=np.float64, fan_in=None, fan_out=None):
    """All ones: ``constant`` with value 1."""
    return np.ones(_shape(shape), dtype=dtype)


def constant(shape, rng=None, *, value=0.0, dtype=np.float64, fan_in=None, fan_out=None):
    """Every entry equal to ``value``: as symmetric as zeros, but not dead."""
    return np.full(_shape(shape), _validate.real("value", value), dtype=dtype)


def normal(shape, rng, *, std=1.0, mean=0.0, dtype=np.float64, fan_in=None, fan_out=None):
    """N(mean, std²). ``normal`` with std=0.01 is the classic small random init ("rand0.01")."""
    std = _validate.in_interval("std", std, 0.0, math.inf)
    return _normal(_shape(shape), rng, _validate.real("mean", mean), std, dtype)


def uniform(shape, rng, *, a=0.0, b=1.0, dtype=np.float64, fan_in=None, fan_out=None):
    """U(a, b), a < b (PyTorch's ``uniform_`` default is U(0, 1))."""
    a, b = _validate.real("a", a), _validate.real("b", b)
    if not a < b:
        raise ValueError(f"uniform needs a < b, got a={a}, b={b}")
    return _uniform(_shape(shape), rng, a, b, dtype)


def xavier_normal(shape, rng, *, gain=1.0, dtype=np.float64, fan_in=None, fan_out=None):
    """Glorot & Bengio (2010): N(0, std²), std = gain · √(2 / (fan_in + fan_out)).

    A compromise between keeping E[z²] ≈ E[x²] forward (Var(w) = 1/fan_in) and Var(δ) backward
    (Var(w) = 1/fan_out); exact for both only when fan_in = fan_out. Derived for activations with f'(0) = 1 (tanh).
    """
    shape = _shape(shape)
    fi, fo = fans(shape, fan_in, fan_out)
    return _normal(shape, rng, 0.0, _gain(gain) * math.sqrt(2.0 / (fi + fo)), dtype)


def xavier_uniform(shape, rng, *, gain=1.0, dtype=np.float64, fan_in=None, fan_out=None):
    """Glorot & Bengio (2010): U(±bound), bound = √3 · std = gain · √(6 / (fan_in + fan_out)).

    (U(±c) has variance c²/3, hence the √3 that turns a std into a bound.)
    """
    shape = _shape(shape)
    fi, fo = fans(shape, fan_in, fan_out)
    return _uniform(shape, rng, *_sym(math.sqrt(3.0) * _gain(gain) * math.sqrt(2.0 / (fi + fo))), dtype)


def _he_std(shape, mode, nonlinearity, a, fan_in, fan_out):
    fi, fo = fans(shape, fan_in, fan_out)
    fan = {"fan_in": fi, "fan_out": fo}[_validate.choice("mode", mode, ("fan_in", "fan_out"))]
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def he_normal(shape, rng, *, mode="fan_in", nonlinearity="relu", a=0.0, dtype=np.float64, fan_in=None,
              fan_out=None):
    """He et al. (2015): N(0, std²), std = gain / √fan, gain = √2 for ReLU.

    ``mode="fan_in"`` preserves E[z²] forward (a ReLU halves E[x²] when z is symmetric about 0 — zero-mean
    symmetric weights, zero bias — and the √2 restores it);
    ``mode="fan_out"`` preserves the backward variance of δ. ``a`` is leaky ReLU's negative slope.
    """
    shape = _shape(shape)
    return _normal(shape, rng, 0.0, _he_std(shape, mode, nonlinearity, a, fan_in, fan_out), dtype)


def he_uniform(shape, rng, *, mode="fan_in", nonlinearity="relu", a=0.0, dtype=np.float64, fan_in=None,
               fan_out=None):
    """He et al. (2015), uniform: U(±bound), bound = √3 · gain / √fan."""
    shape = _shape(shape)
    std = _he_std(shape, mode, nonlinearity, a, fan_in, fan_out)
    return _uniform(shape, rng, *_sym(math.sqrt(3.0) * std), dtype)


def lecun_normal(shape, rng, *, dtype=np.float64, fan_in=None, fan_out=None):
    """LeCun et al. (1998, "Efficient BackProp"): N(0, 1/fan_in). Xavier without fan_out; SELU's init."""
    shape = _shape(shape)
    fi, _ = fans(shape, fan_in, fan_out)
    return _normal(shape, rng, 0.0, 1.0 / math.sqrt(fi), dtype)


def orthogonal(shape, rng, *, gain=1.0, dtype=np.float64, fan_in=None, fan_out=None):
    """Saxe et al. (2014): a (semi-)orthogonal matrix times ``gain``.

    QR of a standard normal matrix, with the signs of R's diagonal folded into Q so that Q is uniformly
    (Haar) distributed, as ``torch.nn.init.orthogonal_`` does. Rows are orthonormal if out ≤ in, else columns.
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs a shape with at least 2 dimensions, got {shape}")
    rng = _validate.generator("rng", rng)
    rows, cols = shape[0], int(np.prod(shape[1:]))
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (_gain(gain) * q).reshape(shape).astype(dtype)


def torch_default(shape, rng, *, dtype=np.float64, fan_in=None, fan_out=None):
    """What ``torch.nn.Linear`` does: U(±1/√fan_in) for W *and* b.

    For W this is ``kaiming_uniform_(W, a=√5)``: gain = √(2/(1+5)) = 1/√3, bound = √3·gain/√fan_in = 1/√fan_in.
    For b PyTorch draws U(±1/√fan_in) with the weight's fan_in, which the layer passes in.
    """
    shape = _shape(shape)
    fi, _ = fans(shape, fan_in, fan_out)
    return _uniform(shape, rng, *_sym(1.0 / math.sqrt(fi)), dtype)


def _gain(value):
    return _validate.in_interval("gain", value, 0.0, math.inf)


def _sym(bound):
    return -bound, bound


#: name → initializer (aliases included)
INITIALIZERS = {
    "zeros": zeros,
    "ones": ones,
    "constant": constant,
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "xavier": xavier_uniform,
    "glorot": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "he": he_normal,
    "kaiming": he_normal,
    "lecun_normal": lecun_normal,
    "lecun": lecun_normal,
    "orthogonal": orthogonal,
    "torch_default": torch_default,
}


#: initializer → the parameter a bare number sets in the ``(name, number)`` shorthand: ``("normal", 0.01)`` is std
SHORTHAND = {normal: "std", constant: "value", xavier_normal: "gain", xavier_uniform: "gain", orthogonal: "gain"}


def get(spec, **params):
    """Resolve an initializer spec to a callable ``f(shape, rng, *, dtype, fan_in, fan_out)``.

    ``spec`` is one of

    - a name: ``"he_normal"``, ``"zeros"``, ``"ones"`` (``INITIALIZERS`` lists them all);
    - ``(name, params)``: ``("constant", {"value": 0.5})``, ``("normal", {"std": 0.01})``;
    - ``(name, number)``, the shorthand for the scheme's one main parameter (``SHORTHAND``): ``("normal", 0.01)``
      is the std (not the variance), ``("constant", 1.0)`` the value, ``("xavier_uniform", 2.0)`` the gain;
    - a callable with the initializer signature.

    Extra keyword ``params`` are bound as well: ``get("normal", std=0.01)``.
    """
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[0], str):
            raise TypeError(f"an initializer tuple must be (name, params_dict) or (name, number), got {spec!r}")
        name, more = spec
        fn = INITIALIZERS[_validate.choice("initializer", name, INITIALIZERS)]
        if isinstance(more, numbers.Real) and not isinstance(more, bool):
            if fn not in SHORTHAND:
                with_number = sorted(n for n, f in INITIALIZERS.items() if f in SHORTHAND)
                raise TypeError(f"({name!r}, number) is not a shorthand: {name!r} takes a params dict; "
                                f"(name, number) works for {', '.join(with_number)}")
            more = {SHORTHAND[fn]: more}
        if not isinstance(more, dict):
            raise TypeError(f"an initializer tuple must be (name, params_dict) or (name, number), got {spec!r}")
        spec, params = name, {**more, **params}
    if isinstance(spec, str):
        fn = INITIALIZERS[_validate.choice("initializer", spec, INITIALIZERS)]
    elif callable(spec):
        fn = spec
    else:
        raise TypeError(f"initializer must be a name, a (name, params) pair or a callable, got {spec!r}")
    return functools.partial(fn, **params) if params else fn


def initialize(spec, shape, rng, *, dtype=np.float64, fan_in=None, fan_out=None):
    """Draw one tensor: ``get(spec)(shape, rng, dtype=dtype, fan_in=fan_in, fan_out=fan_out)``."""
    try:
        return get(spec)(shape, rng, dtype=dtype, fan_in=fan_in, fan_out=fan_out)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"bad parameters for initializer {spec!r}: {exc}") from None
        raise


#: The four weight scales the depth studies compare: label → (initializer spec for ``get``, Var(w) as a function of
#: (fan_in, fan_out)). Too small, too large, and the two that keep the signal's scale (Glorot & Bengio 2010;
#: He et al. 2015).
DEPTH_INITS = {
    "N(0, 0.01²)": (("normal", {"std": 0.01}), lambda fi, fo: 1e-4),
    "N(0, 1)": (("normal", {"std": 1.0}), lambda fi, fo: 1.0),
    "Xavier": ("xavier_normal", lambda fi, fo: 2.0 / (fi + fo)),
    "He": ("he_normal", lambda fi, fo: 2.0 / fi),
}
