"""Argument checks shared by the library: one place for the wording of every error message.

Each check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value of the right kind
but outside its allowed range; the message names the argument and the expected form.
"""
import numbers
import os
from collections.abc import Sequence

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}


def positive_int(name, value):
    """Return ``value`` as an int if it is an integer >= 1."""
    return _int_at_least(name, value, 1)


def nonnegative_int(name, value):
    """Return ``value`` as an int if it is an integer >= 0 (a seed, a count that may be zero)."""
    return _int_at_least(name, value, 0)


def _int_at_least(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def layer_sizes(sizes):
    """``sizes`` of ``mlp`` as a list of ints >= 1, at least two: a list, tuple, range or 1-D integer array (an ordered
    sequence: a set or dict has no order to give the layers)."""
    ordered = isinstance(sizes, np.ndarray) and sizes.ndim == 1 or (
        isinstance(sizes, Sequence) and not isinstance(sizes, (str, bytes, bytearray)))
    if not ordered or len(sizes) < 2:
        kind = f" ({type(sizes).__name__} has no order)" if isinstance(sizes, (set, frozenset, dict)) else ""
        raise ValueError(f"sizes must be a list of at least 2 layer widths, e.g. [784, 100, 10]; got {sizes!r}{kind}")
    return [positive_int("sizes entries", n) for n in sizes]


def positive_float(name, value):
    """Return ``value`` as a float if it is a finite real number > 0."""
    number = real(name, value)
    if not number > 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def real(name, value):
    """Return ``value`` as a float if it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def in_interval(name, value, low, high, *, closed_high=False):
    """Return ``value`` as a float if ``low <= value < high`` (``<= high`` with ``closed_high``)."""
    number = real(name, value)
    ok = low <= number <= high if closed_high else low <= number < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{name} must lie in [{low}, {high}{bracket}, got {value!r}")
    return number


def choice(name, value, options):
    """Return ``value`` if it is one of ``options`` (a dict or sequence of strings)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(options)}; got {value!r}")
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; valid options: {', '.join(sorted(options))}")
    return value


def init_keyword(weight_init, init, default):
    """``weight_init``, or its other spelling ``init`` (``mlp`` and ``Dense`` take both), or ``default``."""
    if init is not None:
        if weight_init is not None:
            raise TypeError("pass weight_init or init (two names for the same argument), not both")
        return init
    return default if weight_init is None else weight_init


def dtype(value):
    """Return the NumPy float type for ``value`` (np.float64 / np.float32 or their names)."""
    if isinstance(value, str):
        return DTYPES[choice("dtype", value, DTYPES)]
    if value is None:  # np.dtype(None) would silently mean float64
        raise TypeError("dtype must be float64 or float32, got None")
    try:
        resolved = np.dtype(value).type
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {value!r}") from None
    if resolved not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {np.dtype(resolved).name}")
    return resolved


def generator(name, value):
    """Return a ``np.random.Generator``: ``value`` itself, or ``np.random.default_rng(value)`` for an int seed.

    A Generator is the documented way (npnet never uses global random state); an int seed is accepted as
    scikit-learn's ``random_state`` is, so that ``rng=0`` works. ``None`` is refused: it would mean an
    unrepeatable run.
    """
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name} as a seed must be an integer >= 0, got {value}")
        return np.random.default_rng(int(value))
    raise TypeError(
        f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)) or an int seed; "
        f"got {type(value).__name__}"
    )


def batch(name, X, n_features, dtype_):
    """Return ``X`` as a 2-D array of shape ``(B, n_features)`` in ``dtype_``, or raise.

    Wrong rank or width is an error rather than something to broadcast: a (784,) vector or a (B, 785) batch
    is a bug in the caller, not a batch of one.
    """
    if type(X) is np.ndarray and X.dtype == dtype_ and X.ndim == 2 and X.shape[1] == n_features and len(X):
        return X  # the common case, checked cheaply: this runs once per layer per step
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != n_features or X.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B, {n_features}) with B >= 1, got {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    return X.astype(dtype_, copy=False)


def finite(name, X):
    """Raise ``ValueError`` if ``X`` holds NaN or inf (checked once per data set, not per step)."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(X)
    if np.isfinite(total):  # a NaN or inf anywhere makes the sum non-finite; no (N, D) mask is allocated
        return X
    if not np.all(np.isfinite(X)):  # the sum alone can also overflow for huge finite values: check exactly
        bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"{name} contains {bad} NaN/inf value(s); inputs must be finite")
    return X


def labels(name, y, n_samples, n_classes):
    """Return integer labels ``y`` of shape ``(n_samples,)`` with values in ``[0, n_classes)``, or raise."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match the batch, got {y.shape}")
    if y.dtype.kind not in "iu":   # signed or unsigned integers (a cheaper test than np.issubdtype, run every step)
        raise TypeError(f"{name} must be integer class labels in [0, {n_classes}), got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes}), got values from {y.min()} to {y.max()}")
    return y


def available_memory():
    """Bytes this process may still allocate: the kernel's MemAvailable (Linux), else the machine's physical memory,
    capped by the address-space limit (``ulimit -v``) if one is set; None where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def allocatable(what, n_bytes):
    """Raise ``ValueError`` if ``n_bytes`` (what ``what`` needs) exceed the memory available, naming the size: a
    clear refusal instead of a MemoryError, or a machine brought to a crawl, partway through."""
    limit = available_memory()
    if limit is not None and n_bytes > limit:
        raise ValueError(f"{what}: {human_bytes(n_bytes)} needed, more than the {human_bytes(limit)} of memory "
                         "available")


def human_bytes(n):
    """1536 -> '1.5 KB' (powers of 1024, as the memory sizes the kernel reports)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
