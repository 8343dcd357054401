"""Tests for npnet.data: IDX files, sources and fallbacks, cache integrity, subsets, errors.

No test touches the network: every test that could reach OpenML replaces ``fetch_openml`` (or the
``urlopen`` beneath it), and every test uses ``tmp_path`` as the data home.
"""

import gzip
import hashlib
import io
import json
import pickle
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.error import URLError

import numpy as np
import pytest
import sklearn.datasets
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from npnet import data
from npnet.data import local, openml
from npnet.data import (DataError, DataSplit, load_fashion_mnist, load_mnist, read_idx,
                        validate_source, write_idx)

BUNDLED_IMAGES = data.BUNDLED_DIR / "t10k-images-idx3-ubyte.gz"
BUNDLED_LABELS = data.BUNDLED_DIR / "t10k-labels-idx1-ubyte.gz"
MNIST_T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
REAL_PROBE = openml.unreachable  # before the autouse fixture replaces it


class FetchRecorder:
    """Stands in for sklearn.datasets.fetch_openml: records calls, returns or raises."""

    def __init__(self, result=None, error=None):
        self.result, self.error, self.calls = result, error, []

    def __call__(self, **kwargs):
        self.calls.append(dict(kwargs, socket_timeout=socket.getdefaulttimeout()))
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No env sources, no Debian directory, OpenML 'reachable' but fetch_openml failing fast.

    Tests that want OpenML data install their own fake; the probe is neutralised so that the fake
    is reached on machines with and without network alike.
    """
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    monkeypatch.delenv(data.FASHION_SOURCE_ENV, raising=False)
    monkeypatch.setattr(local, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-fashion-mnist")
    monkeypatch.setattr(openml, "unreachable", lambda deadline: None)
    fetch = FetchRecorder(error=URLError("no network in tests"))
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    return fetch


def index_images(indices):
    """(N, 28, 28) uint8 images that encode their index in the first two pixels."""
    indices = np.asarray(indices)
    images = np.zeros((len(indices), 28, 28), dtype=np.uint8)
    images[:, 0, 0] = indices % 256
    images[:, 0, 1] = indices // 256
    images[:, 27, 27] = 255  # so that [0, 1] scaling is exercised at both ends
    return images


def decode_indices(X):
    """Invert index_images on ``(N, 784)`` scaled rows."""
    raw = np.rint(X[:, :2] * 255).astype(np.int64)
    return raw[:, 0] + 256 * raw[:, 1]


def make_idx_dir(directory, n_train, n_test, *, gz=True):
    """Synthetic IDX directory; train indices 0..n_train-1, test n_train..; labels = index % 10."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    parts = [("t10k", np.arange(n_train, n_train + n_test))]
    if n_train:
        parts.append(("train", np.arange(n_train)))
    for prefix, idx in parts:
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", index_images(idx))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", (idx % 10).astype(np.uint8))
    return directory


def fake_openml_bunch(n_rows=70, name="mnist_784", float_pixels=True):
    """What fetch_openml(as_frame=False, parser='liac-arff') returns, with n_rows rows."""
    X = index_images(np.arange(n_rows)).reshape(n_rows, 784)
    return SimpleNamespace(data=X.astype(np.float64) if float_pixels else X,
                           target=np.array([str(i % 10) for i in range(n_rows)], dtype=object),
                           details={"name": name})


# ---------------------------------------------------------------------------------------------
# IDX reader / writer
# ---------------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(array=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6)),
       gz=st.booleans())
def test_idx_round_trip(tmp_path_factory, array, gz):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    back[...] = 0  # a fresh, writable array


def test_idx_header_is_the_mnist_magic(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(2, np.uint8))
    header = (tmp_path / "images").read_bytes()[:16].hex()
    assert header == "00000803" "00000002" "0000001c" "0000001c"
    assert (tmp_path / "labels").read_bytes()[:8].hex() == "00000801" "00000002"
    assert read_idx(tmp_path / "images", ndim=3).shape == (2, 28, 28)


def _valid_idx_bytes():
    return bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])


@pytest.mark.parametrize("content, message", [
    (b"", "too short"),
    (b"\x00\x00", "too short"),
    (bytes([1, 0, 8, 1]) + (3).to_bytes(4, "big") + b"abc", "bad magic number 0x01000801"),
    (bytes([0, 0, 0x0D, 1]) + (3).to_bytes(4, "big") + b"abc", "type code 0x0d (float)"),
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 3]) + (3).to_bytes(4, "big"), "truncated header"),
    (_valid_idx_bytes()[:-1], "truncated"),
    (_valid_idx_bytes() + b"\x00", "wrong length"),
], ids=["empty", "2-bytes", "bad-magic", "float-type", "0-dims", "short-header", "short-data",
        "trailing-byte"])
def test_read_idx_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_checks_dimension_count(tmp_path):
    write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"declares 1 dimension.*expected 0x00000803"):
        read_idx(tmp_path / "labels", ndim=3)


def test_read_idx_rejects_truncated_and_corrupt_gzip(tmp_path):
    good = tmp_path / "x-idx3-ubyte.gz"
    write_idx(good, np.arange(2 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(2, 28, 28))
    raw = good.read_bytes()

    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip") as err:
        read_idx(truncated)
    assert "truncated.gz" in str(err.value)

    corrupt = tmp_path / "corrupt.gz"
    flipped = bytearray(raw)
    flipped[-6] ^= 0xFF  # inside the CRC32 trailer
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(corrupt)

    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(_valid_idx_bytes())
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_idx(not_gzip)


def test_gzip_of_a_truncated_idx_is_reported_as_idx_truncation(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(_valid_idx_bytes()[:-2]))
    with pytest.raises(DataError, match=r"truncated: header declares shape \(3,\)"):
        read_idx(path)


def test_write_idx_validates_its_input(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "f", np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "f", np.uint8(3))
    assert not list(tmp_path.iterdir())


def test_bundled_split_is_the_genuine_mnist_test_set():
    images = read_idx(BUNDLED_IMAGES, ndim=3)
    labels = read_idx(BUNDLED_LABELS, ndim=1)
    assert images.shape == (10_000, 28, 28)
    assert np.bincount(labels, minlength=10).tolist() == MNIST_T10K_COUNTS


# ---------------------------------------------------------------------------------------------
# Bundled source and carving
# ---------------------------------------------------------------------------------------------

def test_bundled_load_contract(tmp_path, capsys):
    d = load_mnist(300, 100, seed=1, source="bundled", data_home=tmp_path)
    X_train, y_train, X_test, y_test = d
    assert X_train.shape == (300, 784) and X_test.shape == (100, 784)
    assert X_train.dtype == np.float64 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0 and X_train.max() == 1.0
    assert set(np.unique(y_train)) <= set(range(10))
    assert d.dataset == "mnist" and d.source == "bundled MNIST test split (t10k), carved 300/100"
    assert d.info["source"] == d.source and d.info["source_kind"] == "bundled"
    assert d.info["notice"] is None
    json.dumps(d.info)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MNIST 300 train / 100 test from bundled" in err
    assert not list(tmp_path.iterdir()), "the bundled source writes nothing to the data home"


def test_bundled_values_are_pixels_over_255():
    raw = read_idx(BUNDLED_IMAGES, ndim=3).reshape(10_000, 784)
    d = load_mnist(5, 10, seed=0, source="bundled", verbose=False)
    rows = {row.tobytes(): i for i, row in enumerate(raw)}
    for x in d.X_test:
        original = raw[rows[np.rint(x * 255).astype(np.uint8).tobytes()]]
        np.testing.assert_array_equal(x, original / 255.0)


def test_bundled_oversize_request_keeps_n_test_and_says_so(capsys):
    d = load_mnist(10_000, 2_000, seed=0, source="bundled")
    assert (len(d.y_train), len(d.y_test)) == (8_000, 2_000)
    assert d.info["n_train"] == 8_000 and d.info["requested_n_train"] == 10_000
    assert d.info["n_test"] == d.info["requested_n_test"] == 2_000
    assert "8,000 train / 2,000 test" in d.info["notice"] and "10,000" in d.info["notice"]
    assert d.source.endswith("carved 8,000/2,000")
    assert "notice:" in capsys.readouterr().err
    # all 10,000 images are used exactly once
    both = np.concatenate([d.X_train, d.X_test])
    assert len({row.tobytes() for row in both}) == 10_000


def test_bundled_n_test_that_leaves_no_training_images():
    with pytest.raises(ValueError, match="at most 9,999"):
        load_mnist(10, 10_000, seed=0, source="bundled", verbose=False)


def test_carving_is_disjoint_deterministic_and_nested(tmp_path):
    directory = make_idx_dir(tmp_path / "t10k-only", 0, 500)
    a = load_mnist(200, 100, seed=3, source=directory, verbose=False)
    b = load_mnist(200, 100, seed=3, source=directory, verbose=False)
    c = load_mnist(200, 100, seed=4, source=directory, verbose=False)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.X_train, c.X_train)
    train, test = decode_indices(a.X_train), decode_indices(a.X_test)
    assert len(set(train)) == 200 and len(set(test)) == 100 and not set(train) & set(test)
    np.testing.assert_array_equal(a.y_train, train % 10)
    smaller = load_mnist(50, 100, seed=3, source=directory, verbose=False)
    np.testing.assert_array_equal(smaller.X_test, a.X_test)
    np.testing.assert_array_equal(smaller.X_train, a.X_train[:50])
    assert a.source == f"IDX dir {directory.resolve()} (t10k only), carved 200/100"


def test_first_subset_is_the_unshuffled_file_order_carve(tmp_path):
    t10k = make_idx_dir(tmp_path / "t10k-only", 0, 500)
    a = load_mnist(200, 100, seed=3, source=t10k, verbose=False, subset="first")
    b = load_mnist(200, 100, seed=9, source=t10k, verbose=False, subset="first")
    np.testing.assert_array_equal(decode_indices(a.X_train), np.arange(200))        # first rows train
    np.testing.assert_array_equal(decode_indices(a.X_test), np.arange(400, 500))    # last rows test
    np.testing.assert_array_equal(a.X_train, b.X_train)                             # the seed is unused
    assert a.info["subset"] == "first" and a.source.endswith("carved first 200 / last 100, unshuffled")
    full = make_idx_dir(tmp_path / "full", 120, 40, gz=False)
    d = load_mnist(100, 30, seed=0, source=full, verbose=False, subset="first")
    np.testing.assert_array_equal(decode_indices(d.X_train), np.arange(100))
    np.testing.assert_array_equal(decode_indices(d.X_test), np.arange(120, 150))
    with pytest.raises(ValueError, match="unknown subset 'head'; valid options: first, random"):
        load_mnist(10, 10, seed=0, source=full, verbose=False, subset="head")


# ---------------------------------------------------------------------------------------------
# Full train/test sources: IDX directory
# ---------------------------------------------------------------------------------------------

def test_full_idx_dir_draws_train_from_train_and_test_from_test(tmp_path):
    directory = make_idx_dir(tmp_path / "full", 120, 40, gz=False)
    d = load_mnist(100, 30, seed=0, source=str(directory), verbose=False)
    train, test = decode_indices(d.X_train), decode_indices(d.X_test)
    assert train.max() < 120 and test.min() >= 120
    assert len(set(train)) == 100 and len(set(test)) == 30
    np.testing.assert_array_equal(d.y_test, test % 10)
    assert d.info["source_kind"] == "idx" and d.info["notice"] is None
    assert d.source == f"IDX dir {directory.resolve()}"
    other = load_mnist(100, 30, seed=1, source=directory, verbose=False)
    assert not np.array_equal(d.X_test, other.X_test)


def test_full_idx_dir_rejects_sizes_beyond_what_it_has(tmp_path):
    directory = make_idx_dir(tmp_path / "full", 120, 40)
    with pytest.raises(ValueError, match="n_train=121 exceeds the 120 training images"):
        load_mnist(121, 10, seed=0, source=directory, verbose=False)
    with pytest.raises(ValueError, match="n_test=41 exceeds the 40 test images"):
        load_mnist(10, 41, seed=0, source=directory, verbose=False)


def test_idx_dir_with_mismatched_counts_names_both_files(tmp_path):
    directory = make_idx_dir(tmp_path / "d", 0, 20)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="20 images but .*t10k-labels-idx1-ubyte.gz holds 19"):
        load_mnist(5, 5, seed=0, source=directory, verbose=False)


def test_idx_dir_with_a_corrupt_file_fails_naming_it(tmp_path):
    directory = make_idx_dir(tmp_path / "d", 0, 20)
    images = directory / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:-30])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_mnist(5, 5, seed=0, source=directory, verbose=False)


def test_idx_dir_with_bad_labels_or_image_size(tmp_path):
    directory = make_idx_dir(tmp_path / "d", 0, 20)
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    with pytest.raises(DataError, match="label 10 is outside 0..9"):
        load_mnist(5, 5, seed=0, source=directory, verbose=False)
    write_idx(directory / "t10k-images-idx3-ubyte.gz", np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(DataError, match="32x32, expected 28x28"):
        load_mnist(5, 5, seed=0, source=directory, verbose=False)


# ---------------------------------------------------------------------------------------------
# OpenML (mocked), the cache, and "auto"
# ---------------------------------------------------------------------------------------------

def test_auto_falls_back_to_bundled_quickly_when_fetch_openml_fails(tmp_path, offline, capsys, monkeypatch):
    def no_sleep(seconds):
        raise AssertionError(f"the fallback path slept {seconds} s; it must not sleep or retry")

    monkeypatch.setattr(time, "sleep", no_sleep)   # quick, shown without measuring wall-clock time
    d = load_mnist(10_000, 2_000, seed=0, data_home=tmp_path)
    assert len(offline.calls) == 1
    assert d.info["source_kind"] == "bundled" and d.info["requested_source"] == "auto"
    assert (d.info["n_train"], d.info["n_test"]) == (8_000, 2_000)
    assert "no network in tests" in d.info["fallbacks"][0]
    err = capsys.readouterr().err
    assert "from bundled MNIST test split" in err and "notice:" in err
    assert not (tmp_path / "cache").exists(), "the bundled decode is not cached"


def test_auto_does_not_call_fetch_openml_when_openml_is_unreachable(monkeypatch, tmp_path, offline):
    monkeypatch.setattr(openml, "unreachable", lambda deadline: "no connection within 3 s")
    d = load_mnist(10, 10, seed=0, data_home=tmp_path, verbose=False)
    assert offline.calls == []
    assert d.info["source_kind"] == "bundled"
    assert "unreachable: no connection within 3 s" in d.info["fallbacks"][0]


def test_probe_gives_up_at_its_deadline(monkeypatch):
    # A connection attempt that hangs until the test ends, like a resolver that never answers: the probe can
    # only return if it gives up at its own deadline (no wall-clock assertion needed).
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise TimeoutError("timed out")

    monkeypatch.setattr(openml.urllib.request, "getproxies", lambda: {})
    monkeypatch.setattr(openml.socket, "create_connection", hang)
    try:
        assert "within 0.2 s" in REAL_PROBE(0.2)
    finally:
        release.set()


def test_probe_trusts_an_https_proxy(monkeypatch):
    monkeypatch.setattr(openml.urllib.request, "getproxies", lambda: {"https": "http://proxy:3128"})
    monkeypatch.setattr(openml.socket, "create_connection", pytest.fail)
    assert REAL_PROBE(0.2) is None


def test_openml_call_arguments_without_pandas(monkeypatch, tmp_path, offline):
    monkeypatch.setattr(openml, "pandas_available", lambda: False)
    offline.result, offline.error = fake_openml_bunch(), None
    load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    (call,) = offline.calls
    assert call["data_id"] == 554 and call["as_frame"] is False
    assert call["parser"] == "liac-arff" and call["data_home"] == str(tmp_path)
    assert call["socket_timeout"] == openml.SOCKET_TIMEOUT
    assert socket.getdefaulttimeout() is None, "the process-wide timeout is restored"


@pytest.mark.skipif(openml.pandas_available(), reason="pandas is installed here")
def test_pandas_is_really_absent_so_the_default_parser_is_liac_arff(tmp_path, offline):
    offline.result, offline.error = fake_openml_bunch(), None
    load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    assert offline.calls[0]["parser"] == "liac-arff"


def test_openml_parser_with_pandas(monkeypatch, tmp_path, offline):
    monkeypatch.setattr(openml, "pandas_available", lambda: True)
    offline.result, offline.error = fake_openml_bunch(float_pixels=False), None
    load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    assert offline.calls[0]["parser"] == "auto"


def test_openml_rows_split_train_first_test_last(tmp_path, offline):
    offline.result, offline.error = fake_openml_bunch(70), None
    d = load_mnist(60, 10, seed=0, source="openml", data_home=tmp_path, verbose=False)
    assert sorted(decode_indices(d.X_train)) == list(range(60))
    assert sorted(decode_indices(d.X_test)) == list(range(60, 70))
    np.testing.assert_array_equal(d.y_train, decode_indices(d.X_train) % 10)
    assert d.y_train.dtype == np.int64
    assert d.source == "openml mnist_784 v1 (data_id 554)" and d.info["source_kind"] == "openml"
    with pytest.raises(ValueError, match="n_train=61 exceeds the 60 training images"):
        load_mnist(61, 10, seed=0, source="openml", data_home=tmp_path, verbose=False)


def test_openml_result_for_the_wrong_data_set_is_refused(tmp_path, offline):
    offline.result, offline.error = fake_openml_bunch(name="Fashion-MNIST"), None
    with pytest.raises(DataError, match="returned data set 'Fashion-MNIST', expected 'mnist_784'"):
        load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)


def test_openml_pixels_must_be_bytes(tmp_path, offline):
    bunch = fake_openml_bunch()
    bunch.data[0, 0] = 0.5
    offline.result, offline.error = bunch, None
    with pytest.raises(DataError, match="not integers"):
        load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    bunch.data[0, 0] = 256
    with pytest.raises(DataError, match="outside 0..255"):
        load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    assert not (tmp_path / "cache").exists()


def test_explicit_openml_offline_is_an_error(tmp_path):
    with pytest.raises(DataError, match=r"mnist_784 v1 \(data_id 554\) could not be fetched"):
        load_mnist(6, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)


def test_cache_is_written_atomically_and_used_next_time(tmp_path, offline):
    offline.result, offline.error = fake_openml_bunch(), None
    first = load_mnist(20, 5, seed=2, data_home=tmp_path, verbose=False)
    assert first.info["source_kind"] == "openml"
    cache = tmp_path / "cache" / "npnet-mnist-openml554.npz"
    assert [p.name for p in cache.parent.iterdir()] == [cache.name], "no temp files left"
    offline.result, offline.error = None, URLError("offline now")
    second = load_mnist(20, 5, seed=2, data_home=tmp_path, verbose=False)
    assert len(offline.calls) == 1, "the cache answered without calling fetch_openml"
    assert second.source == "cache of openml mnist_784 v1 (data_id 554)"
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    with np.load(cache, allow_pickle=False) as npz:
        assert npz["X"].dtype == np.uint8 and int(npz["split"]) == 60


def _corrupt_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt_tamper(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["X"] = arrays["X"].copy()
    arrays["X"][3, 5] ^= 1
    np.savez(path, **arrays)


def _corrupt_garbage(path):
    path.write_bytes(b"not a zip file")


@pytest.mark.parametrize("corrupt, reason", [(_corrupt_truncate, "unreadable"),
                                             (_corrupt_tamper, "sha256 mismatch"),
                                             (_corrupt_garbage, "unreadable")])
def test_corrupt_cache_is_detected_removed_and_rebuilt(tmp_path, offline, capsys, corrupt, reason):
    offline.result, offline.error = fake_openml_bunch(), None
    good = load_mnist(20, 5, seed=0, data_home=tmp_path, verbose=False)
    cache = tmp_path / "cache" / "npnet-mnist-openml554.npz"
    corrupt(cache)
    rebuilt = load_mnist(20, 5, seed=0, data_home=tmp_path, verbose=False)
    err = capsys.readouterr().err
    assert f"cache {cache} is corrupt ({reason}" in err and "removing it and rebuilding" in err
    assert len(offline.calls) == 2 and rebuilt.info["source_kind"] == "openml"
    np.testing.assert_array_equal(rebuilt.X_train, good.X_train)
    again = load_mnist(20, 5, seed=0, data_home=tmp_path, verbose=False)
    assert again.info["source_kind"] == "cache" and len(offline.calls) == 2


def test_corrupt_cache_offline_falls_back_to_bundled(tmp_path, offline, capsys):
    (tmp_path / "cache").mkdir()
    cache = tmp_path / "cache" / "npnet-mnist-openml554.npz"
    cache.write_bytes(b"PK\x03\x04 half a zip")
    d = load_mnist(10, 10, seed=0, data_home=tmp_path, verbose=False)
    assert d.info["source_kind"] == "bundled" and not cache.exists()
    assert "is corrupt" in capsys.readouterr().err


def test_failed_cache_write_leaves_nothing_and_still_returns_data(monkeypatch, tmp_path, offline,
                                                                 capsys):
    offline.result, offline.error = fake_openml_bunch(), None

    def savez_that_dies(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(openml.np, "savez", savez_that_dies)
    d = load_mnist(20, 5, seed=0, data_home=tmp_path, verbose=False)
    assert d.info["source_kind"] == "openml"
    assert list((tmp_path / "cache").iterdir()) == []
    assert "could not write cache" in capsys.readouterr().err


def _fake_openml_urlopen(n_rows, name="mnist_784", data_id=554):
    """A urlopen serving the four OpenML responses fetch_openml needs for a tiny 784-pixel table."""
    rows = index_images(np.arange(n_rows)).reshape(n_rows, 784)
    arff = "\n".join(
        [f"@RELATION {name}"] + [f"@ATTRIBUTE pixel{i + 1} NUMERIC" for i in range(784)]
        + ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "@DATA"]
        + [",".join(map(str, row)) + f",{i % 10}" for i, row in enumerate(rows)]).encode() + b"\n"
    feature = {"is_ignore": "false", "is_row_identifier": "false", "number_of_missing_values": "0"}
    features = [dict(feature, index=str(i), name=f"pixel{i + 1}", data_type="numeric",
                     is_target="false") for i in range(784)]
    features.append(dict(feature, index="784", name="class", data_type="nominal",
                         nominal_value=[str(c) for c in range(10)], is_target="true"))
    download = f"https://www.openml.org/data/v1/download/99/{name}.arff"
    responses = {
        f"api/v1/json/data/{data_id}": {"data_set_description": {
            "id": str(data_id), "name": name, "version": "1", "format": "ARFF", "file_id": "99",
            "default_target_attribute": "class", "status": "active", "url": download,
            "md5_checksum": hashlib.md5(arff).hexdigest(), "description": "fake"}},
        f"api/v1/json/data/features/{data_id}": {"data_features": {"feature": features}},
        f"api/v1/json/data/qualities/{data_id}": {"data_qualities": {"quality": [
            {"name": "NumberOfInstances", "value": f"{n_rows}.0"}]}},
    }
    served = []

    class Response(io.BytesIO):
        def info(self):
            return {}

    def urlopen(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        served.append(url)
        path = url.split("openml.org/", 1)[1]
        if url == download:
            return Response(arff)
        return Response(json.dumps(responses[path]).encode())

    return urlopen, served


def test_real_fetch_openml_path_against_a_fake_server(monkeypatch, tmp_path):
    """End to end through scikit-learn's own fetch_openml and parser, served from memory."""
    import sklearn.datasets._openml as sk_openml

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", sk_openml.fetch_openml)
    urlopen, served = _fake_openml_urlopen(14)
    monkeypatch.setattr(sk_openml, "urlopen", urlopen)
    d = load_mnist(12, 2, seed=0, source="openml", data_home=tmp_path, verbose=False)
    assert sorted(decode_indices(d.X_train)) == list(range(12))
    assert sorted(decode_indices(d.X_test)) == [12, 13]
    np.testing.assert_array_equal(d.y_test, decode_indices(d.X_test) % 10)
    assert (tmp_path / "openml" / "openml.org").is_dir(), "sklearn's download cache is in data_home"
    assert len(served) == 4


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST
# ---------------------------------------------------------------------------------------------

def test_fashion_openml_uses_its_own_id_and_cache(tmp_path, offline):
    offline.result, offline.error = fake_openml_bunch(name="Fashion-MNIST"), None
    d = load_fashion_mnist(10, 5, seed=0, data_home=tmp_path, verbose=False)
    assert offline.calls[0]["data_id"] == 40996
    assert d.dataset == "fashion-mnist" and d.info["dataset"] == "fashion-mnist"
    assert d.source == "openml Fashion-MNIST v1 (data_id 40996)"
    assert (tmp_path / "cache" / "npnet-fashion-mnist-openml40996.npz").is_file()
    offline.error = URLError("offline")
    m = load_mnist(10, 5, seed=0, data_home=tmp_path, verbose=False)
    assert m.dataset == "mnist" and m.info["source_kind"] == "bundled", "no cross-dataset cache hit"


def test_fashion_auto_without_any_source_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no Fashion-MNIST data available") as err:
        load_fashion_mnist(10, 5, seed=0, data_home=tmp_path, verbose=False)
    assert "dataset-fashion-mnist" in str(err.value) and "NPNET_FASHION_DATA" in str(err.value)


def test_fashion_auto_uses_the_debian_directory(monkeypatch, tmp_path, capsys):
    debian = make_idx_dir(tmp_path / "debian", 100, 30)
    monkeypatch.setattr(local, "DEBIAN_FASHION_DIR", debian)
    d = load_fashion_mnist(50, 20, seed=0, data_home=tmp_path, verbose=True)
    assert d.dataset == "fashion-mnist" and d.source == f"IDX dir {debian}"
    assert d.info["fallbacks"] and "Fashion-MNIST 50 train / 20 test" in capsys.readouterr().err


def test_fashion_has_no_bundled_split():
    with pytest.raises(ValueError, match="no bundled Fashion-MNIST"):
        load_fashion_mnist(10, 5, seed=0, source="bundled")


def test_mnist_files_are_never_loaded_as_fashion(tmp_path):
    directory = tmp_path / "mnist"
    directory.mkdir()
    shutil.copy(BUNDLED_IMAGES, directory)
    shutil.copy(BUNDLED_LABELS, directory)
    assert load_mnist(10, 5, seed=0, source=directory, verbose=False).dataset == "mnist"
    with pytest.raises(DataError, match="holds MNIST, not Fashion-MNIST.*load_mnist"):
        load_fashion_mnist(10, 5, seed=0, source=directory, verbose=False)


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_files_are_never_loaded_as_mnist():
    with pytest.raises(DataError, match="holds Fashion-MNIST, not MNIST.*load_fashion_mnist"):
        load_mnist(10, 5, seed=0, source="/usr/share/datasets/fashion-mnist", verbose=False)


# ---------------------------------------------------------------------------------------------
# Arguments, sources, environment, result type
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_train, n_test", [(0, 10), (-1, 10), (10, 0), (10, -5)])
def test_non_positive_sizes(n_train, n_test):
    with pytest.raises(ValueError, match="must be an integer >= 1, got -?[0-9]+ images.*available"):
        load_mnist(n_train, n_test, seed=0, source="bundled")


@pytest.mark.parametrize("n_train", [1.5, 10.0, "10", True, None])
def test_non_integer_sizes(n_train):
    with pytest.raises(TypeError, match="n_train must be an integer >= 1"):
        load_mnist(n_train, 10, seed=0, source="bundled")


def test_numpy_integer_sizes_are_fine():
    d = load_mnist(np.int64(5), np.int32(3), seed=np.uint8(0), source="bundled", verbose=False)
    assert d.info["n_train"] == 5 and type(d.info["n_train"]) is int
    json.dumps(d.info)


def test_seed_and_dtype_validation():
    with pytest.raises(TypeError, match="seed must be an integer >= 0"):
        load_mnist(5, 5, seed=1.0, source="bundled")
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        load_mnist(5, 5, seed=-1, source="bundled")
    with pytest.raises(ValueError, match="dtype must be float64 or float32, got int32"):
        load_mnist(5, 5, seed=0, source="bundled", dtype=np.int32)
    with pytest.raises(ValueError, match="dtype must be float64 or float32, got float16"):
        load_mnist(5, 5, seed=0, source="bundled", dtype=np.float16)   # as everywhere in npnet
    with pytest.raises(ValueError, match="unknown dtype 'not-a-dtype'"):
        load_mnist(5, 5, seed=0, source="bundled", dtype="not-a-dtype")


@pytest.mark.parametrize("dtype", [np.float32, "float32", "float64"])
def test_dtype_is_honoured(dtype):
    d = load_mnist(20, 10, seed=0, source="bundled", dtype=dtype, verbose=False)
    assert d.X_train.dtype == np.dtype(dtype) and d.X_test.dtype == np.dtype(dtype)
    assert d.X_train.min() >= 0 and d.X_train.max() <= 1
    assert d.info["dtype"] == np.dtype(dtype).name


def test_unknown_source_lists_the_valid_forms(tmp_path):
    with pytest.raises(ValueError, match="'auto', 'openml', 'bundled', or a directory"):
        load_mnist(5, 5, seed=0, source="mnist.npz")
    with pytest.raises(ValueError, match="lacks t10k-images-idx3-ubyte"):
        validate_source(tmp_path)
    with pytest.raises(TypeError, match="str or path"):
        validate_source(3)


def test_validate_source_normalises(tmp_path):
    directory = make_idx_dir(tmp_path / "d", 0, 20)
    assert validate_source("auto") == "auto" and validate_source("bundled") == "bundled"
    assert validate_source(directory) == str(directory.resolve())
    assert validate_source("openml", dataset="fashion-mnist") == "openml"
    with pytest.raises(ValueError, match="dataset must be one of"):
        validate_source("auto", dataset="cifar")
    message = ""
    try:
        validate_source("nope")
    except ValueError as exc:
        message = str(exc)
    assert "\n" not in message and "'nope'" in message


def test_environment_variable_selects_the_source(monkeypatch, tmp_path):
    directory = make_idx_dir(tmp_path / "d", 0, 50)
    monkeypatch.setenv("NPNET_DATA", str(directory))
    d = load_mnist(10, 5, seed=0, verbose=False)
    assert d.info["source_kind"] == "idx"
    assert d.info["requested_source"] == str(directory.resolve())
    explicit = load_mnist(10, 5, seed=0, source="bundled", verbose=False)
    assert explicit.info["source_kind"] == "bundled", "an explicit source wins over the variable"
    monkeypatch.setenv("NPNET_DATA", "bogus")
    with pytest.raises(ValueError, match=r"^\$NPNET_DATA: unknown MNIST data source 'bogus'"):
        load_mnist(10, 5, seed=0, verbose=False)
    with pytest.raises(DataError):
        # the MNIST variable is not read for Fashion-MNIST
        load_fashion_mnist(10, 5, seed=0, data_home=tmp_path, verbose=False)


def test_result_type(tmp_path, capsys):
    d = load_mnist(12, 8, seed=5, source="bundled", verbose=False)
    assert capsys.readouterr().err == ""
    assert isinstance(d, tuple) and isinstance(d, DataSplit) and len(d) == 4
    assert d.X_train is d[0] and d.y_test is d[3]
    assert set(d.info) >= {"dataset", "source", "n_train", "n_test", "requested_n_train",
                           "requested_n_test", "seed", "notice"}
    assert d.info["seed"] == 5
    clone = pickle.loads(pickle.dumps(d))
    assert clone.source == d.source and clone.info == d.info
    np.testing.assert_array_equal(clone.X_test, d.X_test)
    assert "DataSplit(dataset='mnist'" in repr(d)


def test_default_data_home_is_the_checkout_data_dir():
    root = Path(data.__file__).resolve().parents[2]
    if (root / ".git").exists():
        assert data.default_data_home() == root / "data"
    else:
        assert data.default_data_home() == Path(sklearn.datasets.get_data_home())
