"""The loaders: argument checks, source resolution (``$NPNET_DATA``, auto's fallbacks), the train/test draw, and
``load_mnist`` / ``load_fashion_mnist`` returning a ``DataSplit``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np

from .. import _validate
from . import local, openml
from ._base import FASHION, MNIST, SPECS, DataError, Pool, Spec, one_line, say
from .idx import IDX_FORMS, find_idx_files


class DataSplit(tuple):
    """``(X_train, y_train, X_test, y_test)`` plus where the data came from.

    Unpacks like the plain 4-tuple. Attributes:

    - ``dataset``: ``"mnist"`` or ``"fashion-mnist"``;
    - ``source``: short human description, e.g. ``"openml mnist_784 v1 (data_id 554)"``;
    - ``info``: JSON-serialisable dict for experiment records with keys ``dataset``, ``source``,
      ``source_kind`` (``"cache"``, ``"openml"``, ``"bundled"``, ``"idx"``), ``requested_source``,
      ``n_train``, ``n_test``, ``requested_n_train``, ``requested_n_test``, ``seed``, ``dtype``,
      ``notice`` (str or None: set when sizes were reduced), ``fallbacks`` (list of str: sources
      tried and why they failed) and ``data_home`` (str or None).
    """

    def __new__(cls, X_train, y_train, X_test, y_test, *, dataset: str, source: str, info: dict):
        self = super().__new__(cls, (X_train, y_train, X_test, y_test))
        self.dataset = dataset
        self.source = source
        self.info = info
        return self

    def __getnewargs_ex__(self):
        # tuple's default would call __new__ with the tuple alone; pass the metadata too for pickle.
        return tuple(self), {"dataset": self.dataset, "source": self.source, "info": self.info}

    @property
    def X_train(self) -> np.ndarray:
        """``(n_train, 784)`` pixels in [0, 1]."""
        return self[0]

    @property
    def y_train(self) -> np.ndarray:
        """``(n_train,)`` int64 labels 0–9."""
        return self[1]

    @property
    def X_test(self) -> np.ndarray:
        """``(n_test, 784)`` pixels in [0, 1]."""
        return self[2]

    @property
    def y_test(self) -> np.ndarray:
        """``(n_test,)`` int64 labels 0–9."""
        return self[3]

    def __repr__(self) -> str:
        return (f"DataSplit(dataset={self.dataset!r}, source={self.source!r}, "
                f"X_train={self[0].shape} {self[0].dtype}, X_test={self[2].shape} {self[2].dtype})")


def _auto_pool(spec: Spec, home: Path, fallbacks: list) -> Pool:
    """cache → openml → bundled (MNIST) or the Debian directory (Fashion-MNIST) → DataError."""
    cached = openml.read_cache(spec, home)
    if cached is not None:
        return cached
    try:
        return openml.fetch_pool(spec, home, quiet=True)
    # Any failure here (network, parsing, a broken install) is reported, recorded and falls back.
    except Exception as exc:
        fallbacks.append(one_line(exc if isinstance(exc, DataError) else
                                   f"openml {openml.description(spec)} failed: "
                                   f"{type(exc).__name__}: {exc}"))
    if spec.bundled:
        return local.bundled_pool()
    if spec is FASHION and local.DEBIAN_FASHION_DIR.is_dir():
        return local.pool_from_idx_dir(local.DEBIAN_FASHION_DIR, spec)
    raise DataError(
        f"no {spec.label} data available: no cache at {openml.cache_path(spec, home)}; {fallbacks[-1]}; "
        f"no {local.DEBIAN_FASHION_DIR}. Fetch it once while online (it is then cached), install "
        f"Debian's dataset-fashion-mnist, or pass source=<IDX directory> / set ${spec.env_var}")


def _instead_of_small_cache(spec: Spec, cache: Pool, n_train: int, n_test: int, fallbacks: list) -> Pool:
    """auto with a valid cache smaller than the request (a cache written from a subset): the bundled split for
    MNIST, recorded as a fallback; otherwise an error that says how to get the sizes."""
    why = (f"{cache.source} has {len(cache.y_train):,} train / {len(cache.y_test):,} test images, fewer than "
           f"the {n_train:,}/{n_test:,} requested")
    if spec.bundled:
        fallbacks.append(f"{why}; using the bundled split instead")
        return local.bundled_pool()
    raise ValueError(f"{why}: ask for at most that many, or delete the cache to fetch the full set again "
                     f"(source='openml'), or pass source=<IDX directory>")


# ---- arguments ------------------------------------------------------------------------------------

def _spec_for(dataset: str) -> Spec:
    if dataset not in SPECS:
        raise ValueError(f"dataset must be one of {sorted(SPECS)}, got {dataset!r}")
    return SPECS[dataset]


def _valid_forms(spec: Spec) -> str:
    keywords = "'auto', 'openml', 'bundled'" if spec.bundled else "'auto', 'openml'"
    return f"{keywords}, or {IDX_FORMS}"


def validate_source(value: Union[str, os.PathLike], *, dataset: str = "mnist") -> str:
    """Check a data-source string (e.g. an experiment's ``--data`` option) and normalise it.

    Parameters
    ----------
    value : str or os.PathLike
        ``"auto"``, ``"openml"``, ``"bundled"`` (MNIST only) or a directory of IDX files. A keyword
        wins over a directory of the same name; write ``./openml`` for the directory.
    dataset : {"mnist", "fashion-mnist"}
        Which data set the source is for.

    Returns
    -------
    str
        The keyword, or the directory as an absolute path.

    Raises
    ------
    ValueError
        One line naming the bad value and listing the valid forms (suitable for ``parser.error``).
    TypeError
        ``value`` is not a string or path.

    Examples
    --------
    >>> validate_source("bundled")
    'bundled'

    In a CLI, after parsing::

        try:
            source = validate_source(args.data)
        except ValueError as exc:
            parser.error(str(exc))
    """
    spec = _spec_for(dataset)
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"data source must be a str or path, got {type(value).__name__}")
    text = os.fspath(value)
    if text in ("auto", "openml"):
        return text
    if text == "bundled":
        if spec.bundled:
            return text
        raise ValueError(f"there is no bundled {spec.label} split; valid sources: "
                         f"{_valid_forms(spec)} (e.g. {local.DEBIAN_FASHION_DIR} from Debian's "
                         f"dataset-fashion-mnist)")
    path = Path(text).expanduser()
    try:
        is_dir = path.is_dir()
    except OSError as exc:   # e.g. a path part longer than the file system allows
        raise ValueError(f"{spec.label} data source {text!r}: {exc.strerror or exc}") from None
    if not is_dir:
        raise ValueError(f"unknown {spec.label} data source {text!r} (not a keyword and not a "
                         f"directory); valid sources: {_valid_forms(spec)}")
    find_idx_files(path)
    return str(path.resolve())


def _resolve_source(source, spec: Spec) -> str:
    if source is not None:
        return validate_source(source, dataset=spec.key)
    env = os.environ.get(spec.env_var, "").strip()
    if not env:
        return "auto"
    try:
        return validate_source(env, dataset=spec.key)
    except ValueError as exc:
        raise ValueError(f"${spec.env_var}: {exc}") from None


def _check_count(name: str, value) -> int:
    try:
        return _validate.positive_int(name, value)
    except ValueError as exc:
        raise ValueError(f"{exc} images (available: 60,000 train / 10,000 test from openml or a full IDX "
                         f"set, 10,000 in all from a t10k-only source)") from None


SUBSETS = ("random", "first")


def _draw(pool: Pool, n_train: int, n_test: int, seed: int, subset: str = "random"):
    """Pick disjoint subsets; returns ``(Xtr, ytr, Xte, yte), source, notice`` (uint8 arrays).

    ``subset="random"`` draws seeded permutations; ``"first"`` takes rows in file order, as the
    studies' PyTorch scripts do (``train[:n_train]``, ``test[:n_test]``; a single t10k split gives
    its first ``n_train`` rows to training and its last ``n_test`` rows to test).
    """
    if pool.X_train is None:
        total = len(pool.y_test)
        if n_test >= total:
            raise ValueError(f"n_test={n_test:,} leaves no training images: {pool.source} has "
                             f"{total:,} images available in all, so n_test must be at most "
                             f"{total - 1:,}")
        used = min(n_train, total - n_test)
        notice = None
        if used < n_train:
            notice = (f"{pool.source} has only {total:,} images, so n_train + n_test must fit in "
                      f"{total:,}: using all of it as {used:,} train / {n_test:,} test "
                      f"instead of {n_train:,}/{n_test:,}")
        if subset == "first":
            # Fixed, unshuffled carve: first rows train, last rows test (disjoint since used <= total - n_test).
            train, test = np.arange(used), np.arange(total - n_test, total)
            how = f"first {used:,} / last {n_test:,}, unshuffled"
        else:
            # Test first: the test subset then depends only on (seed, n_test), not on n_train.
            order = np.random.default_rng(np.random.SeedSequence(seed)).permutation(total)
            test, train = order[:n_test], order[n_test:n_test + used]
            how = f"{used:,}/{n_test:,}"
        arrays = (pool.X_test[train], pool.y_test[train], pool.X_test[test], pool.y_test[test])
        return arrays, f"{pool.source}, carved {how}", notice

    for name, n, have, part in (("n_train", n_train, len(pool.y_train), "training"),
                                ("n_test", n_test, len(pool.y_test), "test")):
        if n > have:
            raise ValueError(f"{name}={n:,} exceeds the {have:,} {part} images available from "
                             f"{pool.source}")
    if subset == "first":
        train, test = np.arange(n_train), np.arange(n_test)
        arrays = (pool.X_train[train], pool.y_train[train], pool.X_test[test], pool.y_test[test])
        return arrays, f"{pool.source}, first {n_train:,} train / first {n_test:,} test, unshuffled", None
    # Independent streams, so each subset depends only on the seed and its own size; permutation
    # prefixes make a smaller subset part of a larger one drawn with the same seed.
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    train = np.random.default_rng(train_ss).permutation(len(pool.y_train))[:n_train]
    test = np.random.default_rng(test_ss).permutation(len(pool.y_test))[:n_test]
    arrays = (pool.X_train[train], pool.y_train[train], pool.X_test[test], pool.y_test[test])
    return arrays, pool.source, None


def _load(spec: Spec, n_train, n_test, seed, source, data_home, dtype, verbose,
          subset="random") -> DataSplit:
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    seed = _validate.nonnegative_int("seed", seed)
    dtype = np.dtype(_validate.dtype(dtype))
    _validate.choice("subset", subset, SUBSETS)
    requested = _resolve_source(source, spec)

    home = None
    fallbacks: list = []
    if requested in ("auto", "openml"):
        home = Path(data_home).expanduser() if data_home is not None else local.default_data_home()
    if requested == "auto":
        pool = _auto_pool(spec, home, fallbacks)
        if pool.kind == "cache" and (n_train > len(pool.y_train) or n_test > len(pool.y_test)):
            pool = _instead_of_small_cache(spec, pool, n_train, n_test, fallbacks)
    elif requested == "openml":
        pool = openml.cached_or_fetch(spec, home, quiet=False)
    elif requested == "bundled":
        pool = local.bundled_pool()
    else:
        pool = local.pool_from_idx_dir(Path(requested), spec)

    (Xtr, ytr, Xte, yte), description, notice = _draw(pool, n_train, n_test, seed, subset)
    X_train, X_test = Xtr.astype(dtype), Xte.astype(dtype)
    X_train /= 255
    X_test /= 255
    info = {
        "dataset": spec.key,
        "source": description,
        "source_kind": pool.kind,
        "requested_source": requested,
        "n_train": len(ytr),
        "n_test": len(yte),
        "requested_n_train": n_train,
        "requested_n_test": n_test,
        "seed": seed,
        "subset": subset,
        "dtype": dtype.name,
        "notice": notice,
        "fallbacks": fallbacks,
        "data_home": None if home is None else str(home),
    }
    if verbose:
        tried = f" ({'; '.join(fallbacks)})" if fallbacks else ""
        say(f"{spec.label} {len(ytr):,} train / {len(yte):,} test from {description}{tried}")
        if notice:
            say(f"notice: {notice}")
    return DataSplit(X_train, ytr.astype(np.int64), X_test, yte.astype(np.int64),
                     dataset=spec.key, source=description, info=info)


def load_mnist(n_train: int, n_test: int, *, seed: int,
               source: Union[str, os.PathLike, None] = None,
               data_home: Union[str, os.PathLike, None] = None,
               dtype=np.float64, verbose: bool = True,
               subset: str = "random") -> DataSplit:
    """Load MNIST as flat ``[0, 1]`` images with disjoint, seeded train/test subsets.

    Parameters
    ----------
    n_train, n_test : int
        Subset sizes, both >= 1. Train rows come from the source's train split and test rows from
        its test split. A t10k-only source (``"bundled"``, a t10k-only IDX directory) is carved
        instead; when ``n_train + n_test`` exceeds its 10,000 images, ``n_test`` is kept and
        ``n_train`` shrunk to ``10,000 - n_test``, with a notice (10,000/2,000 becomes 8,000/2,000).
    seed : int
        Non-negative. The same seed gives identical subsets; a smaller subset is a prefix of a
        larger one drawn with the same seed.
    source : str or os.PathLike, optional
        ``"auto"`` (cache → openml → bundled), ``"openml"`` (cache → openml), ``"bundled"`` or an
        IDX directory; see :func:`validate_source`. ``None`` reads ``$NPNET_DATA``, else ``"auto"``.
    data_home : str or os.PathLike, optional
        Holds ``cache/`` (decoded arrays) and ``openml/`` (scikit-learn's download cache). Default
        :func:`default_data_home`. Unused by the bundled and IDX-directory sources.
    dtype : np.float64 (default) or np.float32, or their names
        dtype of ``X_train`` and ``X_test`` (float16 is refused, as everywhere in npnet).
    verbose : bool, default True
        Print one line on stderr naming the source (and a notice when sizes were reduced). Cache
        corruption is reported regardless.
    subset : {"random", "first"}, default "random"
        ``"random"``: seeded subsets as described under ``seed``. ``"first"``: a fixed, unshuffled
        carve in file order, what the studies' PyTorch scripts do: the first ``n_train`` training
        images and the first ``n_test`` test images; a t10k-only source gives its first rows to
        training and its last ``n_test`` rows to test. ``seed`` is then unused (but still checked).

    Returns
    -------
    DataSplit
        ``(X_train, y_train, X_test, y_test)``: ``X_train (n_train, 784)`` and
        ``X_test (n_test, 784)`` of ``dtype`` holding ``x / 255``; ``y_train (n_train,)`` and
        ``y_test (n_test,)`` int64 in 0..9. ``.dataset == "mnist"``; ``.source`` and ``.info``
        (JSON-serialisable) say where the data came from and which sizes were used.

    Raises
    ------
    TypeError
        A size or the seed is not an int, or ``dtype`` is not a dtype.
    ValueError
        A size is not positive or exceeds what the source has (the message gives the available
        count), the seed is negative, ``dtype`` is not float64/float32, ``subset`` is unknown, or ``source``
        is not one of the valid forms.
    DataError
        A file is corrupt, or the requested source cannot provide the data (e.g. ``"openml"``
        offline with no cache).

    Examples
    --------
    >>> X_train, y_train, X_test, y_test = load_mnist(8000, 2000, seed=0, source="bundled",
    ...                                               verbose=False)
    >>> X_train.shape, y_test.dtype
    ((8000, 784), dtype('int64'))
    """
    return _load(MNIST, n_train, n_test, seed, source, data_home, dtype, verbose, subset)


def load_fashion_mnist(n_train: int, n_test: int, *, seed: int,
                       source: Union[str, os.PathLike, None] = None,
                       data_home: Union[str, os.PathLike, None] = None,
                       dtype=np.float64, verbose: bool = True,
                       subset: str = "random") -> DataSplit:
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) exactly like :func:`load_mnist`.

    Differences from :func:`load_mnist`:

    - there is no bundled split: ``source`` is ``"auto"`` (cache → openml ``Fashion-MNIST``
      data_id 40996 → ``/usr/share/datasets/fashion-mnist`` from Debian's
      ``dataset-fashion-mnist`` if present → :class:`DataError`), ``"openml"`` or an IDX directory;
    - ``source=None`` reads ``$NPNET_FASHION_DATA`` (not ``$NPNET_DATA``), else ``"auto"``;
    - the result has ``.dataset == "fashion-mnist"``, and a directory holding the MNIST test set
      is refused (and vice versa in :func:`load_mnist`).

    Parameters, return value and exceptions are those of :func:`load_mnist`.
    """
    return _load(FASHION, n_train, n_test, seed, source, data_home, dtype, verbose, subset)
