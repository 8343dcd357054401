"""The API a newcomer types (issue 16): optimizers by name, init shorthands, int seeds, net(X), predict_proba,
save/load; non-finite weights refused where they enter; the public functions' documented errors, also under a
hypothesis fuzz."""
import os
import stat

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import npnet
from npnet import Activation, Dense, SGD, gradcheck, init, mlp, probes, train
from npnet.data import openml
from npnet.data._base import MNIST

D, C = 4, 3


def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    return rng.normal(size=(n, D)) + 2.0 * y[:, None], y


def net_(**kw):
    return mlp([D, 6, C], "tanh", "xavier_normal", rng=0, **kw)


# ---------------------------------------------------------------- optimizer by name, and whose parameters


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("adam", 0.01), ("adam", None)])
def test_train_takes_an_optimizer_name(name, lr):
    X, y = blobs()
    by_name, by_object = net_(), net_()
    h = train(by_name, X, y, optimizer=name, lr=lr, epochs=2, batch_size=8, rng=1)
    opt = npnet.optim.get(name, by_object, **({} if lr is None else {"lr": lr}))
    train(by_object, X, y, optimizer=opt, epochs=2, batch_size=8, rng=np.random.default_rng(1))
    assert h["train_loss"][-1] < h["train_loss"][0] or name == "adam"
    for a, b in zip(by_name.parameters(), by_object.parameters()):
        assert np.array_equal(a.value, b.value)     # the name and optim.get build the same optimizer


def test_train_rejects_bad_optimizers():
    X, y = blobs()
    net, other = net_(), net_()
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; valid options: adam, sgd"):
        train(net, X, y, optimizer="rmsprop", lr=0.1, epochs=1, batch_size=8, rng=0)
    with pytest.raises(TypeError, match="lr"):
        train(net, X, y, optimizer="sgd", epochs=1, batch_size=8, rng=0)   # SGD has no default lr
    with pytest.raises(ValueError, match="lr goes with an optimizer name"):
        train(net, X, y, optimizer=SGD(net, lr=0.1), lr=0.1, epochs=1, batch_size=8, rng=0)
    with pytest.raises(TypeError, match="optimizer must be 'sgd', 'adam' or an optimizer"):
        train(net, X, y, optimizer=None, epochs=1, batch_size=8, rng=0)
    before = net.get_weights()
    with pytest.raises(ValueError, match=r"optimizer updates parameters that are not this network's \(fc1.W, "):
        train(net, X, y, optimizer=SGD(other, lr=0.1), epochs=1, batch_size=8, rng=0)
    assert all(np.array_equal(v, net.get_weights()[k]) for k, v in before.items())
    train(net, X, y, optimizer=SGD(net.parameters()[2:], lr=0.1), epochs=1, batch_size=8, rng=0)   # fc1 frozen
    after = net.get_weights()
    assert np.array_equal(after["fc1.W"], before["fc1.W"]) and not np.array_equal(after["fc2.W"], before["fc2.W"])


def test_history_has_the_test_loss():
    X, y = blobs()
    net = net_()
    h = train(net, X, y, optimizer="sgd", lr=0.1, epochs=2, batch_size=8, rng=0, X_test=X[:10], y_test=y[:10])
    assert h["test_loss"][-1] == npnet.evaluate(net, X[:10], y[:10], loss="softmax_cross_entropy")["loss"]
    assert train(net, X, y, optimizer="sgd", lr=0.1, epochs=1, batch_size=8, rng=0)["test_loss"] == [None]


# ---------------------------------------------------------------- init keyword, shorthands, int seeds


def test_one_init_keyword_with_the_old_spelling_kept():
    a = mlp([D, 6, C], weight_init="zeros")
    b = mlp([D, 6, C], init="zeros")
    assert not np.any(a.dense[0].W) and not np.any(b.dense[0].W)
    assert not np.any(Dense(D, 2, init="zeros").W) and not np.any(Dense(D, 2, weight_init="zeros").W)
    with pytest.raises(TypeError, match="pass weight_init or init"):
        mlp([D, 6, C], weight_init="zeros", init="zeros")
    with pytest.raises(TypeError, match="pass weight_init or init"):
        Dense(D, 2, weight_init="zeros", init="ones")


def test_initializer_shorthands():
    ones = Dense(D, 3, weight_init="ones").W
    const = Dense(D, 3, weight_init=("constant", 1.5)).W
    std = init.initialize(("normal", 0.01), (400, 400), 0)
    assert np.all(ones == 1.0) and np.all(const == 1.5)
    assert np.array_equal(std, init.normal((400, 400), np.random.default_rng(0), std=0.01))
    assert 0.0099 < std.std() < 0.0101    # the number is the std, not the variance


def test_int_seed_is_default_rng_of_it():
    a, b = mlp([D, 6, C], rng=3), mlp([D, 6, C], rng=np.random.default_rng(3))
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters()))
    assert np.array_equal(Dense(D, 2, rng=5).W, Dense(D, 2, rng=np.random.default_rng(5)).W)


# ---------------------------------------------------------------- calling, predicting


def test_call_predict_and_a_single_row():
    net = net_()
    X = np.random.default_rng(1).normal(size=(5, D))
    logits = net.forward(X)
    assert np.array_equal(net(X), logits)
    # one row is a (1, D) batch: equal up to BLAS's summation order
    assert np.allclose(net.forward(X[2]), logits[2], rtol=1e-12, atol=0) and net.forward(X[2]).shape == (C,)
    assert net.predict(X[2]) == int(logits[2].argmax()) and np.array_equal(net.predict(X), logits.argmax(1))
    p = net.predict_proba(X)
    assert p.shape == (5, C) and np.allclose(p.sum(axis=1), 1.0) and np.array_equal(p.argmax(1), net.predict(X))
    assert np.allclose(net.predict_proba(X[0]), p[0])
    with pytest.raises(ValueError, match=r"X must have shape \(B, 4\)"):
        net(np.zeros(D + 1))


# ---------------------------------------------------------------- save / load


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, dtype):
    net = mlp([D, 6, 5, C], ["relu", "sigmoid"], rng=0, dtype=dtype, products="exact", relu_grad_at_zero=1.0)
    net.save(tmp_path / "net.npz")
    back = npnet.load(tmp_path / "net.npz")
    assert repr(back) == repr(net) and back.dtype == net.dtype
    assert back.layers[1].relu_grad_at_zero == 1.0
    assert all(np.array_equal(p.value, q.value) and p.value.dtype == q.value.dtype
               for p, q in zip(net.parameters(), back.parameters()))
    X = np.random.default_rng(0).normal(size=(3, D))
    assert np.array_equal(back(X), net(X))


def test_load_gives_clear_errors(tmp_path):
    net = net_()
    good = tmp_path / "good.npz"
    net.save(good)
    with np.load(good) as f:
        arrays = dict(f)
    cases = {
        "not_npz": b"hello",
        "no_spec": {k: v for k, v in arrays.items() if k != "spec"},
        "bad_spec": {**arrays, "spec": np.array("{")},
        "missing_weight": {k: v for k, v in arrays.items() if k != "weight:fc2.b"},
        "wrong_shape": {**arrays, "weight:fc1.W": np.zeros((2, 2))},
        "nan_weight": {**arrays, "weight:fc1.b": np.full(6, np.nan)},
        "pickled": {**arrays, "weight:fc1.b": np.array([object()] * 6, dtype=object)},
    }
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        npnet.load(tmp_path / "array.npy")
    with pytest.raises(FileNotFoundError):
        npnet.load(tmp_path / "missing.npz")
    for name, content in cases.items():
        path = tmp_path / f"{name}.npz"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            np.savez(path, **content)
        with pytest.raises(ValueError, match=str(path)):
            npnet.load(path)
    with pytest.raises(ValueError, match="save handles networks of the mlp form"):
        npnet.Network([Dense(D, 2, rng=0), Activation("relu")]).save(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists() and not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- non-finite weights, raw NumPy errors


def test_non_finite_weights_are_refused_where_they_enter():
    net = net_()
    before = net.get_weights()
    for bad in (np.nan, np.inf):
        w = net.get_weights()
        w["fc2.W"][0, 0] = bad
        with pytest.raises(ValueError, match="fc2.W contains 1 NaN/inf"):
            net.set_weights(w)
    with pytest.raises(ValueError, match="entries this network does not have"):
        net.set_weights({**before, "fc9.W": 0})
    with pytest.raises(TypeError, match="weights must be a dict"):
        net.set_weights([1, 2])
    assert all(np.array_equal(v, net.get_weights()[k]) for k, v in before.items())   # all or nothing
    with pytest.raises(ValueError, match="NaN/inf"):
        Dense(D, 2, weight_init=lambda shape, rng, **kw: np.full(shape, np.nan))
    with pytest.raises(TypeError, match="expected real numbers"):
        Dense(D, 2, weight_init=lambda shape, rng, **kw: np.full(shape, "a"))


def test_raw_numpy_errors_became_documented_ones():
    # layers do not check what the training loop hands them; a Network checks what a caller hands it
    net = npnet.mlp([4, 3, 2], "tanh", rng=0)
    net.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the last forward's output \(3, 2\)"):
        net.backward(np.zeros((3, 5)))
    assert np.array_equal(net.backward([[1.0, 0.0]] * 3), net.backward(np.array([[1.0, 0.0]] * 3)))
    with pytest.raises(TypeError, match="dout must hold real numbers"):
        net.backward(np.array([["a", "b"]] * 3))
    with pytest.raises(ValueError, match="dout must have the layer's output shape"):
        gradcheck.check_layer(Activation("tanh"), np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(TypeError, match="x must be a float numpy array"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="W must be a 2-D array"):
        probes.row_spread(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="A must be a 2-D array"):
        probes.unit_variance(np.zeros(3))
    with pytest.raises(ValueError, match="x is empty"):
        probes.tensor_stats([])
    with pytest.raises(ValueError, match="no finite entry"):
        probes.tensor_stats([np.nan, np.inf])


# ---------------------------------------------------------------- data: auto with a small cache, cache mode


def _small_cache(home, n=60):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    openml._write_cache(MNIST, home, X, rng.integers(0, 10, n).astype(np.uint8), n - 10)


def test_auto_with_a_smaller_cache_falls_back_to_the_bundled_split(tmp_path, monkeypatch):
    monkeypatch.delenv(npnet.data.SOURCE_ENV, raising=False)
    _small_cache(tmp_path)
    small = npnet.data.load_mnist(20, 5, seed=0, data_home=tmp_path, verbose=False)
    assert small.info["source_kind"] == "cache"
    d = npnet.data.load_mnist(100, 20, seed=0, data_home=tmp_path, verbose=False)
    assert d.info["source_kind"] == "bundled" and "fewer than the 100/20 requested" in d.info["fallbacks"][0]


def test_cache_files_get_the_outputs_permissions(tmp_path):
    _small_cache(tmp_path)
    cache = openml.cache_path(MNIST, tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o666 & ~umask


# ---------------------------------------------------------------- fuzz: only documented exceptions

ARRAYS = st.one_of(
    hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex128]),
               hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)),   # NaN/inf included
    hnp.arrays(np.float64, st.tuples(st.integers(0, 6), st.just(D))),              # the right width, any values
    hnp.arrays(np.uint8, st.integers(1, 3), elements=st.integers(0, 20)),          # as a shape: small ints
    st.lists(st.floats(), max_size=5), st.none(), st.text(max_size=3), st.integers(-3, 12))
LABELS = st.one_of(ARRAYS, hnp.arrays(np.int64, st.integers(0, 6), elements=st.integers(-2, C + 1)))
FUZZ_NET = mlp([D, 3, C], "relu", rng=0)
DOCUMENTED = (TypeError, ValueError)


def _calls(x, y):
    net = FUZZ_NET
    act = Activation("sigmoid")
    return [lambda: net(x), lambda: net.predict_proba(x), lambda: npnet.evaluate(net, x, y, loss="mse"),
            lambda: train(net, x, y, optimizer="sgd", lr=0.01, epochs=1, batch_size=4, rng=0),
            lambda: train(net, x, y, optimizer="adam", lr=x, epochs=1, batch_size=4, rng=y),
            lambda: npnet.losses.get("softmax_cross_entropy").forward(x, y),
            lambda: probes.tensor_stats(x), lambda: probes.row_spread(x), lambda: probes.unit_variance(x),
            lambda: probes.distinct_rows(x), lambda: init.initialize("he_normal", x, 0) if np.size(x) < 4 else None,
            lambda: init.initialize(("normal", x), (2, 2), y), lambda: mlp([D, 3, C], weight_init=x, rng=y),
            lambda: mlp(x, rng=0), lambda: net.set_weights({"fc1.W": x}),
            lambda: (net.forward(np.ones((2, D))), net.backward(x)),
            lambda: gradcheck.check(net, x, y), lambda: gradcheck.check_layer(act, x, y)]


@given(x=ARRAYS, y=LABELS)
def test_fuzz_public_api_raises_only_documented_errors(x, y):
    """Shapes, dtypes, NaN/inf, empty arrays, labels out of range: a ValueError or TypeError, or a result."""
    saved = FUZZ_NET.get_weights()
    try:
        for call in _calls(x, y):
            try:
                with np.errstate(all="ignore"):
                    call()
            except DOCUMENTED:
                pass
    finally:
        FUZZ_NET.set_weights(saved)
