"""The full-size OpenML path (a 70,000-row table: 60,000 train / 10,000 test), exercised offline. Marked slow.

OpenML cannot be reached from the test machines, so ``sklearn.datasets.fetch_openml`` is replaced by a stand-in
that returns what ``fetch_openml(data_id=554, as_frame=False, parser="liac-arff")`` returns: a ``(70000, 784)``
float64 pixel table and string labels ``'0'``–``'9'``. Its rows are the bundled t10k images repeated seven times.
That table is a TEST FIXTURE with the size and format of OpenML's table, not MNIST's training set: nothing here is
reported as a result, and the data home is a temporary directory (the fixture never reaches the checkout's cache).

What is checked: shapes and dtypes, which rows go where (the 6/7 : 1/7 carve by row order), the decoded-array cache
written once and read back identically, ``subset="first"`` on a full source, and one experiment's ``--quick`` run
on the cached table. The peak memory of each step (``tracemalloc``, which sees NumPy's allocations) is printed:

    python -m pytest -m slow -s tests/test_fullsize_data.py

The stand-in builds its float64 table inside the traced call, as the real fetch_openml does, so the first peak
includes that 439 MB table; what the ARFF parser itself would allocate on the way is not modelled.
"""
import json
import os
import tracemalloc

import numpy as np
import pytest
import sklearn.datasets
from sklearn.utils import Bunch

from npnet.data import load_mnist, local, openml
from npnet.data.idx import read_idx_pair

pytestmark = pytest.mark.slow

N_ROWS, N_TRAIN, N_TEST = 70_000, 60_000, 10_000
MB = 1e6


@pytest.fixture(scope="module")
def t10k():
    """The bundled t10k images (10000, 784) and labels (10000,), uint8."""
    return read_idx_pair(local.BUNDLED_DIR / "t10k-images-idx3-ubyte.gz",
                         local.BUNDLED_DIR / "t10k-labels-idx1-ubyte.gz")


class TiledTableFetch:
    """Stands in for fetch_openml: the bundled t10k rows repeated seven times (test fixture, not MNIST train)."""

    def __init__(self, images, labels):
        self.images, self.labels, self.calls = images, labels, 0

    def __call__(self, **kwargs):
        assert kwargs["data_id"] == 554 and kwargs["as_frame"] is False
        self.calls += 1
        reps = N_ROWS // len(self.labels)
        data = np.tile(self.images, (reps, 1)).astype(np.float64)       # liac-arff hands over float64 pixels
        target = np.tile(self.labels.astype(str).astype(object), reps)  # and the class column as strings
        # details name: the loader checks it; "mnist_784" is the OpenML table this fixture stands in for.
        return Bunch(data=data, target=target, details={"name": "mnist_784"})


class Refuse:
    """fetch_openml once the cache should answer: fails the test if called."""

    def __call__(self, **kwargs):
        pytest.fail("fetch_openml called although the cache holds the table")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A temporary data home, also the default one (for experiments, which do not pass data_home)."""
    monkeypatch.delenv("NPNET_DATA", raising=False)
    monkeypatch.setattr(openml, "unreachable", lambda deadline: None)
    monkeypatch.setattr(local, "default_data_home", lambda: tmp_path / "data-home")
    return tmp_path / "data-home"


def traced(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` and its peak traced memory in bytes (what fn allocated beyond what was live)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return result, peak


def projection(X):
    """One number per row (a random projection): the multiset of rows compared through sorted values."""
    w = np.random.default_rng(0).standard_normal(X.shape[1])
    return np.sort(X.astype(np.float64) @ w)


def report(step, peak, split=None):
    """Print the peak; for a load, also the bytes of the arrays it returns, and check the peak against them."""
    line = f"\n[full-size fixture] {step}: peak traced memory {peak / MB:,.0f} MB"
    if split is not None:
        returned = sum(a.nbytes for a in split)
        line += f" ({peak / returned:.2f} x the {returned / MB:,.0f} MB of arrays it returns)"
        # At its peak a load holds the returned arrays plus uint8 tables (55 MB each: the pool and the drawn rows;
        # while decoding, the float64 table, as large as the full result, with its uint8 copy and the comparison
        # of the two). One more float64 copy of the table or of the result (439 MB) would break this bound.
        assert peak < returned + 3 * N_ROWS * 784, line
    print(line)


def test_full_size_path_fetch_cache_reload_first_and_an_experiment(t10k, home, monkeypatch, tmp_path):
    images, labels = t10k
    fetch = TiledTableFetch(images, labels)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    table_bytes = N_ROWS * images.shape[1] * 8

    # 1. load_mnist(60000, 10000): fetch, decode, write the cache, draw.
    split, peak = traced(load_mnist, N_TRAIN, N_TEST, seed=0, source="openml", data_home=home, verbose=False)
    report(f"load_mnist(60000, 10000) through fetch_openml (its float64 table: {table_bytes / MB:,.0f} MB)", peak,
           split)
    assert fetch.calls == 1
    X_train, y_train, X_test, y_test = split
    assert X_train.shape == (N_TRAIN, 784) and X_test.shape == (N_TEST, 784)
    assert X_train.dtype == X_test.dtype == np.float64 and y_train.dtype == y_test.dtype == np.int64
    assert split.info["source_kind"] == "openml" and split.source == "openml mnist_784 v1 (data_id 554)"
    assert (split.info["n_train"], split.info["n_test"], split.info["notice"]) == (N_TRAIN, N_TEST, None)
    assert 0.0 <= X_train.min() and X_train.max() == 1.0
    # The carve: test = the last 10,000 rows (one copy of t10k), train = the first 60,000 (six copies), shuffled.
    t10k_scaled = images / 255
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), 6 * np.bincount(labels, minlength=10))
    np.testing.assert_allclose(projection(X_test), projection(t10k_scaled), rtol=0, atol=1e-9)
    np.testing.assert_allclose(projection(X_train), np.sort(np.tile(projection(t10k_scaled), 6)), rtol=0, atol=1e-9)
    assert not np.array_equal(X_test, t10k_scaled), "the 10,000 test rows are drawn in a seeded random order"

    cache = home / "cache" / "npnet-mnist-openml554.npz"
    assert [p.name for p in cache.parent.iterdir()] == [cache.name], "the cache and no temporary file"
    with np.load(cache, allow_pickle=False) as npz:
        assert npz["X"].shape == (N_ROWS, 784) and npz["X"].dtype == np.uint8 and int(npz["split"]) == N_TRAIN
    print(f"[full-size fixture] cache {cache.name}: {cache.stat().st_size / MB:,.0f} MB")

    # 2. The same call again: the cache answers, with identical arrays.
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", Refuse())
    again, peak = traced(load_mnist, N_TRAIN, N_TEST, seed=0, source="openml", data_home=home, verbose=False)
    report("load_mnist(60000, 10000) from the cache", peak, again)
    assert again.info["source_kind"] == "cache"
    assert again.source == "cache of openml mnist_784 v1 (data_id 554)"
    for a, b in zip(split, again):
        np.testing.assert_array_equal(a, b)
    del split, again, X_train, X_test

    # 3. subset="first" on a full source: train = rows 0..9,999, test = rows 60,000..61,999 (file order).
    first, peak = traced(load_mnist, 10_000, 2_000, seed=0, source="openml", data_home=home, verbose=False,
                         subset="first")
    report('load_mnist(10000, 2000, subset="first") from the cache', peak, first)
    assert first.X_train.shape == (10_000, 784) and first.X_test.shape == (2_000, 784)
    np.testing.assert_array_equal(first.X_train, t10k_scaled)          # fixture rows 0..9,999
    np.testing.assert_array_equal(first.X_test, t10k_scaled[:2_000])    # fixture rows 60,000..61,999
    np.testing.assert_array_equal(first.y_train, labels)
    np.testing.assert_array_equal(first.y_test, labels[:2_000])
    assert first.source == ("cache of openml mnist_784 v1 (data_id 554), first 10,000 train / first 2,000 test, "
                            "unshuffled")

    # 4. An experiment's --quick run on the cached table (its default data home is the temporary one).
    from experiments import symmetry
    out = tmp_path / "out"
    _, peak = traced(symmetry.main, ["--quick", "--data", "openml", "--out", os.fspath(out)])
    report("python -m experiments.symmetry --quick --data openml (cached table)", peak)
    record = json.loads((out / "symmetry.json").read_text())["data"]
    assert record["source_kind"] == "cache" and record["requested_source"] == "openml"
    assert (record["n_train"], record["n_test"]) == (1_000, 500) and record["notice"] is None
    assert record["data_home"] == str(home)
