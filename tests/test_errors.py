"""Bad input raises the documented error, with a message that names the argument (and lists valid options)."""
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

import npnet
from npnet import Activation, Adam, Dense, MSE, Network, SGD, SoftmaxCrossEntropy, evaluate, gradcheck, losses, mlp
from npnet import optim, train

D, C, N = 4, 3, 10


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def net(rng):
    return mlp([D, 5, C], "tanh", "xavier_normal", rng=rng)


@pytest.fixture
def data(rng):
    return rng.normal(size=(N, D)), rng.integers(0, C, N)


def run_train(net, X, y, **overrides):
    kwargs = dict(optimizer=SGD(net, lr=0.1), epochs=1, batch_size=4, rng=np.random.default_rng(1))
    kwargs.update(overrides)
    return train(net, X, y, **kwargs)


# ---------------------------------------------------------------- shapes of X


BAD_SHAPES = [
    pytest.param((D,), id="1-D"),
    pytest.param((N, D + 1), id="too-wide"),
    pytest.param((N, D - 1), id="too-narrow"),
    pytest.param((0, D), id="zero-rows"),
    pytest.param((2, N, D), id="3-D"),
    pytest.param((), id="scalar"),
]


@pytest.mark.parametrize("shape", BAD_SHAPES[1:] + [pytest.param((D + 1,), id="1-D-wrong-width")])
def test_forward_rejects_bad_shapes(net, shape):   # a single (D,) row is one example: test_api
    with pytest.raises(ValueError, match=rf"X must have shape \(B, {D}\) with B >= 1, got"):
        net.forward(np.zeros(shape))


@pytest.mark.parametrize("shape", BAD_SHAPES)
def test_train_and_evaluate_reject_bad_shapes(net, shape):
    y = np.zeros(shape[0] if len(shape) == 2 else N, dtype=int)
    with pytest.raises(ValueError, match=r"X must have shape"):
        run_train(net, np.zeros(shape), y)
    with pytest.raises(ValueError, match=r"X must have shape"):
        evaluate(net, np.zeros(shape), y)


def test_bad_test_set_shape_names_x_test(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"X_test must have shape"):
        run_train(net, X, y, X_test=np.zeros((5, D + 2)), y_test=np.zeros(5, dtype=int))


@pytest.mark.parametrize("X", [np.array([["a", "b", "c", "d"]]), np.ones((2, D), dtype=bool),
                               np.ones((2, D), dtype=complex)])
def test_non_real_inputs(net, X):
    with pytest.raises(TypeError, match="X must hold real numbers"):
        net.forward(X)


def test_integer_inputs_are_fine(net):
    assert net.forward(np.ones((2, D), dtype=np.int64)).dtype == np.float64


# ---------------------------------------------------------------- NaN and inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(net, data, bad):
    X, y = data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"X contains 1 NaN/inf value\(s\)"):
        net.forward(X)
    with pytest.raises(ValueError, match=r"X contains 1 NaN/inf"):
        run_train(net, X, y)
    with pytest.raises(ValueError, match=r"X contains 1 NaN/inf"):
        evaluate(net, X, y)
    with pytest.raises(ValueError, match=r"X_test contains 1 NaN/inf"):
        run_train(net, data[0], y, X_test=X, y_test=y)


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize("labels, error, match", [
    pytest.param([0, 1, 3], ValueError, r"y must lie in \[0, 3\), got values from 0 to 3", id="too-large"),
    pytest.param([0, -1, 2], ValueError, r"y must lie in \[0, 3\), got values from -1 to 2", id="negative"),
    pytest.param([0.0, 1.0, 2.0], TypeError, r"y must be integer class labels", id="float"),
    pytest.param([True, False, True], TypeError, r"y must be integer class labels", id="bool"),
    pytest.param(["0", "1", "2"], TypeError, r"y must be integer class labels", id="str"),
    pytest.param([0, 1], ValueError, r"y must have shape \(3,\) to match the batch", id="short"),
    pytest.param([0, 1, 2, 0], ValueError, r"y must have shape \(3,\)", id="long"),
    pytest.param([[0], [1], [2]], ValueError, r"y must have shape \(3,\)", id="2-D"),
])
def test_bad_labels(net, labels, error, match):
    X = np.zeros((3, D))
    y = np.array(labels)
    with pytest.raises(error, match=match):
        run_train(net, X, y)
    with pytest.raises(error, match=match):
        evaluate(net, X, y)
    with pytest.raises(error, match=match):
        SoftmaxCrossEntropy().forward(np.zeros((3, C)), y)
    with pytest.raises(error, match=match.replace("y must", "y_test must")):
        run_train(net, np.zeros((6, D)), np.zeros(6, dtype=int), X_test=X, y_test=y)


def test_mse_label_errors_name_the_target():
    with pytest.raises(ValueError, match=r"target must lie in \[0, 3\)"):
        MSE().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        MSE().forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\)"):
        MSE().forward(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"target must have shape \(2, 3\)"):
        MSE().forward(np.zeros((2, 3)), np.zeros(2))            # float (B,): not labels, wrong shape


def test_loss_output_must_be_2d():
    with pytest.raises(ValueError, match=r"logits must have shape \(B, C\)"):
        SoftmaxCrossEntropy().forward(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"predictions must have shape \(B, C\)"):
        MSE().forward(np.zeros(3), np.zeros(3))


def test_test_set_needs_both_halves(net, data):
    X, y = data
    with pytest.raises(ValueError, match="pass both X_test and y_test"):
        run_train(net, X, y, X_test=X)
    with pytest.raises(ValueError, match="pass both X_test and y_test"):
        run_train(net, X, y, y_test=y)


# ---------------------------------------------------------------- unknown names


VALID_ACTIVATIONS = "identity, relu, sigmoid, softsign, tanh"


def test_unknown_activation(rng):
    with pytest.raises(ValueError, match=f"unknown activation 'softplus'; valid options: {VALID_ACTIVATIONS}"):
        mlp([D, 5, C], "softplus", rng=rng)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        mlp([D, 5, 5, C], ["relu", "gelu"], rng=rng)
    with pytest.raises(ValueError, match="unknown activation 'Relu'"):
        Activation("Relu")
    with pytest.raises(TypeError, match="activation must be a string"):
        Activation(None)


def test_unknown_initializer(rng):
    with pytest.raises(ValueError, match="unknown initializer 'xavier_gaussian'; valid options: .*xavier_normal"):
        mlp([D, 5, C], "tanh", "xavier_gaussian", rng=rng)
    with pytest.raises(ValueError, match="unknown initializer 'one'"):
        mlp([D, 5, C], "tanh", "zeros", bias_init="one", rng=rng)
    with pytest.raises(ValueError, match="unknown initializer 'kaiming_fan_in'"):
        Dense(D, 5, weight_init="kaiming_fan_in", rng=rng)


def test_unknown_optimizer(net):
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; valid options: adam, sgd"):
        optim.get("rmsprop", net, lr=0.1)
    assert isinstance(optim.get("sgd", net, lr=0.1), SGD)
    assert isinstance(optim.get("adam", net), Adam)


def test_unknown_loss(net, data):
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid options: cross_entropy, mse, "
                                         "softmax_cross_entropy"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        run_train(net, *data, loss="hinge")
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        evaluate(net, *data, loss="l2")
    with pytest.raises(TypeError, match="loss must be a name"):
        losses.get(3)


def test_unknown_products(rng):
    with pytest.raises(ValueError, match="unknown products 'fast'; valid options: blas, exact"):
        mlp([D, 5, C], "tanh", rng=rng, products="fast")
    with pytest.raises(ValueError, match="unknown products 'EXACT'"):
        Dense(D, 5, rng=rng, products="EXACT")


@pytest.mark.parametrize("dtype, error, match", [
    ("float16", ValueError, "unknown dtype 'float16'; valid options: float32, float64"),
    ("double", ValueError, "unknown dtype 'double'"),
    (np.float16, ValueError, "dtype must be float64 or float32, got float16"),
    (np.int32, ValueError, "dtype must be float64 or float32, got int32"),
    (int, ValueError, "dtype must be float64 or float32, got int64"),
    (object(), TypeError, "dtype must be float64 or float32"),
])
def test_unknown_dtype(rng, dtype, error, match):
    with pytest.raises(error, match=match):
        mlp([D, 5, C], "tanh", rng=rng, dtype=dtype)
    with pytest.raises(error, match=match):
        Dense(D, 5, rng=rng, dtype=dtype)


@pytest.mark.parametrize("dtype, expected", [("float32", np.float32), (np.float32, np.float32),
                                             (np.dtype("float32"), np.float32), ("float64", np.float64)])
def test_dtype_spellings(rng, dtype, expected):
    assert mlp([D, 5, C], "tanh", rng=rng, dtype=dtype).dtype is expected


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize("sizes, error, match", [
    ([D, 0, C], ValueError, "sizes entries must be an integer >= 1, got 0"),
    ([D, -3, C], ValueError, "sizes entries must be an integer >= 1, got -3"),
    ([0, 5, C], ValueError, "sizes entries must be an integer >= 1, got 0"),
    ([D, 2.5, C], TypeError, r"sizes entries must be an integer >= 1, got 2.5 \(float\)"),
    ([D, 5.0, C], TypeError, r"sizes entries must be an integer >= 1, got 5.0 \(float\)"),
    ([D, "5", C], TypeError, r"sizes entries must be an integer >= 1, got '5' \(str\)"),
    ([D, True, C], TypeError, r"sizes entries must be an integer >= 1, got True \(bool\)"),
    ([D], ValueError, "sizes must be a list of at least 2 layer widths"),
    ([], ValueError, "sizes must be a list of at least 2 layer widths"),
    ("784", ValueError, "sizes must be a list of at least 2 layer widths"),
    (784, ValueError, "sizes must be a list of at least 2 layer widths"),
])
def test_bad_sizes(rng, sizes, error, match):
    with pytest.raises(error, match=match):
        mlp(sizes, "relu", rng=rng)


def test_numpy_integer_sizes_are_fine(rng):
    net = mlp(np.array([D, 5, C]), "relu", rng=rng)
    assert [layer.W.shape for layer in net.dense] == [(5, D), (C, 5)]


@pytest.mark.parametrize("args, error, match", [
    ((0, 3), ValueError, "in_features must be an integer >= 1, got 0"),
    ((3, -1), ValueError, "out_features must be an integer >= 1, got -1"),
    ((3.0, 2), TypeError, "in_features must be an integer"),
    ((3, None), TypeError, "out_features must be an integer"),
])
def test_bad_dense_sizes(args, error, match):
    with pytest.raises(error, match=match):
        Dense(*args, rng=np.random.default_rng(0))


@pytest.mark.parametrize("name, value, error", [
    ("epochs", 0, ValueError), ("epochs", -1, ValueError), ("epochs", 1.5, TypeError), ("epochs", "2", TypeError),
    ("batch_size", 0, ValueError), ("batch_size", 2.0, TypeError), ("batch_size", "2", TypeError),
])
def test_bad_epochs_and_batch_size(net, data, name, value, error):
    before = net.get_weights()
    with pytest.raises(error, match=f"{name} must be an integer >= 1"):
        run_train(net, *data, **{name: value})
    after = net.get_weights()
    assert all(np.array_equal(before[k], after[k]) for k in before)   # validated before any step


def test_bad_evaluate_batch_size(net, data):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        evaluate(net, *data, batch_size=0)


# ---------------------------------------------------------------- learning rates, momentum, betas, eps


@pytest.mark.parametrize("opt", [SGD, Adam])
@pytest.mark.parametrize("lr, error, match", [
    (0.0, ValueError, "lr must be a finite number > 0, got 0.0"),
    (-0.1, ValueError, "lr must be a finite number > 0, got -0.1"),
    (float("nan"), ValueError, "lr must be finite, got nan"),
    (float("inf"), ValueError, "lr must be finite, got inf"),
    ("0.1", TypeError, "lr must be a real number"),
    (None, TypeError, "lr must be a real number"),
    (True, TypeError, "lr must be a real number"),
])
def test_bad_learning_rate(net, opt, lr, error, match):
    with pytest.raises(error, match=match):
        opt(net, lr=lr)


@pytest.mark.parametrize("momentum, error, match", [
    (-0.1, ValueError, r"momentum must lie in \[0.0, 1.0\), got -0.1"),
    (1.0, ValueError, r"momentum must lie in \[0.0, 1.0\), got 1.0"),
    (1.5, ValueError, r"momentum must lie in \[0.0, 1.0\)"),
    (float("nan"), ValueError, "momentum must be finite"),
    ("0.9", TypeError, "momentum must be a real number"),
])
def test_bad_momentum(net, momentum, error, match):
    with pytest.raises(error, match=match):
        SGD(net, lr=0.1, momentum=momentum)


@pytest.mark.parametrize("betas, error, match", [
    ((1.0, 0.999), ValueError, r"betas\[0\] must lie in \[0.0, 1.0\)"),
    ((-0.1, 0.999), ValueError, r"betas\[0\] must lie in \[0.0, 1.0\)"),
    ((0.9, 1.0), ValueError, r"betas\[1\] must lie in \[0.0, 1.0\)"),
    ((0.9, float("nan")), ValueError, r"betas\[1\] must be finite"),
    ((0.9, "0.999"), TypeError, r"betas\[1\] must be a real number"),
    (0.9, TypeError, r"betas must be a pair \(beta1, beta2\)"),
    ((0.9,), TypeError, r"betas must be a pair"),
    ((0.9, 0.99, 0.999), TypeError, r"betas must be a pair"),
])
def test_bad_betas(net, betas, error, match):
    with pytest.raises(error, match=match):
        Adam(net, betas=betas)


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan")])
def test_bad_eps(net, eps):
    with pytest.raises(ValueError, match="eps must be"):
        Adam(net, eps=eps)


def test_optimizer_needs_parameters():
    with pytest.raises(ValueError, match="params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        Adam([])


# ---------------------------------------------------------------- rng


@pytest.mark.parametrize("bad", [None, "0", 1.5, True, np.random.RandomState(0), np.random])
def test_rng_must_be_a_generator_or_a_seed(net, data, bad):
    match = r"rng must be a numpy.random.Generator \(np.random.default_rng\(seed\)\) or an int seed"
    with pytest.raises(TypeError, match=match):
        mlp([D, 5, C], "relu", rng=bad)
    with pytest.raises(TypeError, match=match):
        Dense(D, 5, weight_init="he_normal", rng=bad)
    with pytest.raises(TypeError, match=match):
        run_train(net, *data, rng=bad)


def test_rng_seed_must_be_nonnegative(net, data):
    with pytest.raises(ValueError, match="rng as a seed must be an integer >= 0, got -1"):
        mlp([D, 5, C], "relu", rng=-1)


def test_rng_is_required_by_mlp_only_when_an_initializer_draws():
    with pytest.raises(TypeError, match="rng"):
        mlp([D, 5, C], "relu")
    assert not np.any(mlp([D, 5, C], "relu", "zeros").dense[0].W)


def test_zeros_dense_needs_no_rng():
    assert np.all(Dense(D, 5, weight_init="zeros").W == 0)


# ---------------------------------------------------------------- per-layer lists


@pytest.mark.parametrize("kwargs, match", [
    (dict(init=["zeros", "he_normal"]), r"init is a list of 2 entries; it needs one per layer \(3\)"),
    (dict(init=["zeros"] * 4), r"init is a list of 4 entries; it needs one per layer \(3\)"),
    (dict(bias_init=["zeros"]), r"bias_init is a list of 1 entries; it needs one per layer \(3\)"),
    (dict(activation=["relu"] * 3), r"activation is a list of 3 entries; it needs one per layer \(2\)"),
])
def test_per_layer_list_of_the_wrong_length(rng, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mlp([D, 5, 5, C], rng=rng, **kwargs)


def test_relu_grad_at_zero_must_be_finite(rng):
    with pytest.raises(ValueError, match="relu_grad_at_zero must be finite"):
        mlp([D, 5, C], "relu", rng=rng, relu_grad_at_zero=float("nan"))


# ---------------------------------------------------------------- order of calls, network structure


def test_backward_before_forward(net):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        net.backward(np.zeros((2, C)))
    with pytest.raises(RuntimeError, match="Dense.backward called before forward"):
        Dense(D, 2, weight_init="zeros").backward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="Activation.backward called before forward"):
        Activation("sigmoid").backward(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        SoftmaxCrossEntropy().backward()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        MSE().backward()


def test_backward_with_a_wrongly_shaped_gradient(net):
    net.forward(np.zeros((2, D)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the last forward's output \(2, 3\), got \(2, 4\)"):
        net.backward(np.zeros((2, C + 1)))


def test_network_structure_errors():
    with pytest.raises(ValueError, match="starts with a Dense layer"):
        Network([])
    with pytest.raises(ValueError, match="starts with a Dense layer"):
        Network([Activation("relu"), Dense(3, 4, weight_init="zeros")])
    with pytest.raises(ValueError, match="do not chain"):
        Network([Dense(3, 4, weight_init="zeros"), Activation("relu"), Dense(5, 2, weight_init="zeros")])
    with pytest.raises(ValueError, match="share one dtype"):
        Network([Dense(3, 4, weight_init="zeros"), Dense(4, 2, weight_init="zeros", dtype=np.float32)])


def test_custom_initializer_must_honour_shape_and_dtype():
    with pytest.raises(ValueError, match=r"weight_init .* returned shape \(2, 2\), expected \(3, 4\)"):
        Dense(4, 3, weight_init=lambda shape, rng, **kw: np.zeros((2, 2)))
    layer = Dense(4, 3, weight_init=lambda shape, rng, **kw: np.ones(shape), dtype=np.float32)
    assert layer.W.dtype == np.float32


def test_set_weights_errors(net):
    weights = net.get_weights()
    missing = {k: v for k, v in weights.items() if k != "fc2.b"}
    with pytest.raises(ValueError, match="weights has no entry 'fc2.b'"):
        net.set_weights(missing)
    wrong = dict(weights, **{"fc1.W": np.zeros((D, 5))})
    with pytest.raises(ValueError, match=r"fc1.W must have shape \(5, 4\), got \(4, 5\)"):
        net.set_weights(wrong)


def test_gradcheck_order_must_be_2_or_4(net, data):
    with pytest.raises(ValueError, match="order must be 2 or 4, got 3"):
        gradcheck.check(net, *data, order=3)


def test_public_names():
    assert set(npnet.__all__) <= set(dir(npnet))


# ---------------------------------------------------------------- sizes the machine cannot hold, unordered sizes


@pytest.mark.parametrize("sizes", [[784, 10**12, 10], [10**7, 10**7], [784] + [10**9] * 3 + [10]])
def test_mlp_refuses_sizes_that_cannot_be_allocated(sizes):
    with pytest.raises(ValueError, match=r"mlp sizes \[.*\] \([\d,]+ parameters, their gradients and an initial "
                                         r"draw\): [\d.]+ [TP]B needed, more than the .* of memory available"):
        mlp(sizes, rng=0)


def test_mlp_size_limit_is_the_memory_available(monkeypatch):
    monkeypatch.setattr(npnet._validate, "available_memory", lambda: 6 * 2**30)   # a 6 GB machine
    with pytest.raises(ValueError, match=r"mlp sizes \[784, 1000000, 10\] \(795,000,010 parameters.*\): 17.7 GB "
                                         r"needed, more than the 6.0 GB of memory available"):
        mlp([784, 10**6, 10], rng=0)
    assert mlp([D, 5, C], rng=0).dense[0].W.shape == (5, D)


@pytest.mark.parametrize("sizes, kind", [({D: 1, C: 2}, "dict"), ({D, C}, "set"), (frozenset({D, 5, C}), "frozenset"),
                                         (np.array([[D, C]]), None), (iter([D, C]), None), (b"\x04\x03", None)])
def test_mlp_sizes_must_be_an_ordered_list(sizes, kind):
    match = "sizes must be a list of at least 2 layer widths" + (rf".* \({kind} has no order\)" if kind else "")
    with pytest.raises(ValueError, match=match):
        mlp(sizes, rng=0)


def test_mlp_sizes_may_be_a_tuple_or_range():
    assert mlp((D, 5, C), rng=0).out_features == C and mlp(range(3, 5), rng=0).in_features == 3


# ---------------------------------------------------------------- probes: the net, bins, the saturation mask


@pytest.mark.parametrize("bad", [None, [1, 2], "net", Dense(D, C, rng=0)])
def test_probes_need_a_network(bad, data):
    with pytest.raises(TypeError, match=r"^net must be a Network \(npnet.mlp\(...\) builds one\), got"):
        npnet.probes.layer_stats(bad)
    with pytest.raises(TypeError, match=r"^net must be a Network .*, got " + type(bad).__name__):
        npnet.probes.gradients_at(bad, *data)
    with pytest.raises(TypeError, match=r"^net must be a Network"):
        npnet.probes.changed_parameters({}, bad)


@pytest.mark.parametrize("before, error", [(None, TypeError), ([], TypeError), ({}, ValueError),
                                           ({"fc1.W": 0}, ValueError)])
def test_changed_parameters_needs_a_snapshot_of_the_net(net, before, error):
    with pytest.raises(error, match=r"before must be a snapshot of this net's get_weights\(\)"):
        npnet.probes.changed_parameters(before, net)
    assert npnet.probes.changed_parameters(net.get_weights(), net) == []


@pytest.mark.parametrize("bins, error, match", [
    (10**10, ValueError, r"tensor_stats with bins=10,000,000,000 \(a histogram of that many bins\): [\d.]+ [GT]B "
                         r"needed, more than the .* of memory available"),
    (0, ValueError, "bins must be an integer >= 1, got 0"),
    (-3, ValueError, "bins must be an integer >= 1, got -3"),
    (2.5, TypeError, "bins must be an integer >= 1"),
    ("auto", TypeError, "bins must be an integer >= 1"),
])
def test_tensor_stats_bins(bins, error, match, monkeypatch):
    monkeypatch.setattr(npnet._validate, "available_memory", lambda: 64 * 2**30)   # the result does not depend on
    with pytest.raises(error, match=match):                                        # the machine running the test
        npnet.probes.tensor_stats(np.arange(5.0), bins=bins)


@pytest.mark.parametrize("saturated", ["x", 1, [True, False], np.ones(5), np.ones((5, 1), dtype=bool)])
def test_tensor_stats_saturated_must_be_a_mask_of_x(saturated):
    with pytest.raises(TypeError, match=r"saturated must be None or a boolean mask of x's shape \(5,\)"):
        npnet.probes.tensor_stats(np.arange(5.0), saturated=saturated)
    mask = np.arange(5.0) > 2
    assert npnet.probes.tensor_stats(np.arange(5.0), saturated=mask)["frac_saturated"] == 0.4


@pytest.mark.parametrize("tol, error", [(-0.1, ValueError), (1.0, ValueError), (np.nan, ValueError),
                                        ("0.1", TypeError)])
def test_layer_stats_tol(net, data, tol, error):
    net.forward(data[0])
    with pytest.raises(error, match="tol must"):
        npnet.probes.layer_stats(net, tol=tol)


# ---------------------------------------------------------------- model files (npnet.load) as hostile input


def _npy(array, header=None):
    """The bytes of an .npy file of ``array``, or of a bare header declaring ``header`` (descr, shape) and no data."""
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, np.asarray(array))
    else:
        np.lib.format.write_array_header_1_0(buf, {"descr": header[0], "fortran_order": False, "shape": header[1]})
    return buf.getvalue()


@pytest.fixture
def saved(tmp_path):
    """(path of a good saved network, {member: .npy bytes}, write(name, members) -> path of a new .npz)."""
    path = tmp_path / "good.npz"
    mlp([D, 5, C], "tanh", rng=0).save(path)
    with np.load(path) as f:
        members = {k: _npy(f[k]) for k in f.files}

    def write(name, content):
        target = tmp_path / name
        with zipfile.ZipFile(target, "w") as z:
            for key, value in content.items():
                z.writestr(key[4:] if key.startswith("raw:") else key + ".npy", value)   # raw: the name as is
        return target
    return path, members, write


def _load_error(path, match):
    with pytest.raises(ValueError, match=match) as info:
        npnet.load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and "allow_pickle" not in message
    return message


def test_load_truncated_and_bit_flipped_files(saved):
    path, _, _ = saved
    data = path.read_bytes()
    for n in (0, 10, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:n])
        _load_error(path, "not a saved npnet network")
    member = _npy(mlp([D, 5, C], "tanh", rng=0).dense[0].W)
    start = data.index(member)
    for offset in range(0, len(member), 5):    # the fc1.W member, header and weights: its CRC-32 catches every flip
        flipped = bytearray(data)
        flipped[start + offset] ^= 0x04
        path.write_bytes(bytes(flipped))
        try:
            npnet.load(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path)) and "allow_pickle" not in str(exc)
        else:
            pytest.fail(f"a flipped bit at {start + offset} loaded")


@pytest.mark.parametrize("case, match", [
    ("weight_shape_1e12", r"member 'weight:fc1.W' declares 128 bytes; its header says 8,000,000,000,128"),
    ("extra_shape_1e12", r"members the spec does not describe: 'unused'"),
    ("spec_sizes_1e12", r"member 'weight:fc1.W' is float64 \(5, 4\); the spec says float64 \(1000000000000, 4\)"),
    ("unused_big_deflated", r"members the spec does not describe: 'junk'"),
    ("wrong_dtype", r"member 'weight:fc2.b' is int64 \(3,\); the spec says float64 \(3,\)"),
    ("pickled", r"member 'weight:fc1.b' has dtype object, not plain numbers \(Python objects are never loaded\)"),
    ("spec_nested_deep", r"its 'spec' is nested too deeply"),
    ("spec_too_big", r"bad or missing 'spec': a <U300000 array of shape \(\), not one JSON string of at most"),
    ("spec_not_an_object", r"bad or missing 'spec' \(a JSON list, not an object\)"),
    ("spec_sizes_a_dict", r"bad or missing 'spec' \(sizes must be a list"),
    ("spec_missing_keys", r"bad or missing 'spec' \(no activations, dtype"),
    ("spec_2d", r"bad or missing 'spec': a <U\d+ array of shape \(1,\)"),
    ("no_spec", r"bad or missing 'spec': no 'spec' member"),
    ("not_npy", r"member 'readme.txt' is not an array \(.npy\)"),
    ("short_member", r"member 'weight:fc1.b' declares 160 bytes; its header says 168"),
])
def test_load_refuses_before_allocating(saved, case, match):
    _, members, write = saved
    spec = json.loads(str(np.lib.format.read_array(io.BytesIO(members["spec"]))))
    changes = {
        "weight_shape_1e12": {"weight:fc1.W": _npy(None, ("<f8", (10**9, 1000)))},
        "extra_shape_1e12": {"unused": _npy(None, ("<f8", (10**12,)))},
        "spec_sizes_1e12": {"spec": _npy(json.dumps({**spec, "sizes": [D, 10**12, C]}))},
        "wrong_dtype": {"weight:fc2.b": _npy(np.zeros(C, dtype=np.int64))},
        "pickled": {"weight:fc1.b": _npy(np.array([None] * 5, dtype=object))},
        "spec_nested_deep": {"spec": _npy("[" * 100_000 + "]" * 100_000)},
        "spec_too_big": {"spec": _npy("[" * 150_000 + "]" * 150_000)},
        "spec_not_an_object": {"spec": _npy("[1, 2]")},
        "spec_sizes_a_dict": {"spec": _npy(json.dumps({**spec, "sizes": {"a": 4}}))},
        "spec_missing_keys": {"spec": _npy(json.dumps({"format": spec["format"], "sizes": spec["sizes"]}))},
        "spec_2d": {"spec": _npy(np.array([json.dumps(spec)]))},
        "not_npy": {"raw:readme.txt": b"hello"},
        "short_member": {"weight:fc1.b": _npy(np.zeros(5))[:-8]},
    }.get(case, {})
    content = {**members, **changes}
    if case == "no_spec":
        del content["spec"]
    path = write(f"{case}.npz", content)
    if case == "unused_big_deflated":      # 64 MiB of zeros that deflate to 64 KB, declared as an array: never read
        info = zipfile.ZipInfo("junk.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(path, "a") as z, z.open(info, "w", force_zip64=True) as f:
            f.write(_npy(None, ("<f8", (2**23,))))
            for _ in range(4):
                f.write(bytes(2**24))
    tracemalloc.start()
    try:
        _load_error(path, match)
        assert tracemalloc.get_traced_memory()[1] < 2**22   # peak under 4 MB: nothing big was read or allocated
    finally:
        tracemalloc.stop()


def test_load_refuses_what_is_not_a_regular_file(saved, tmp_path):
    os.mkfifo(tmp_path / "fifo.npz")                      # opening it for reading would wait for a writer forever
    (tmp_path / "zero.npz").symlink_to("/dev/zero")       # would never end
    (tmp_path / "dir.npz").mkdir()
    for name, kind in [("fifo", "a FIFO"), ("zero", "a device"), ("dir", "a directory")]:
        _load_error(tmp_path / f"{name}.npz", f"not a regular file but {kind}")
    with pytest.raises(FileNotFoundError):
        npnet.load(tmp_path / "missing.npz")


def test_load_reads_a_compressed_save(saved):
    path, members, write = saved
    compressed = path.with_name("compressed.npz")
    with np.load(path) as f:
        np.savez_compressed(compressed, **dict(f))
    assert repr(npnet.load(compressed)) == repr(npnet.load(path))


def test_a_data_source_path_too_long_for_the_file_system(tmp_path):
    with pytest.raises(ValueError, match="MNIST data source .*: File name too long"):
        npnet.data.validate_source(str(tmp_path / ("x" * 300)))
