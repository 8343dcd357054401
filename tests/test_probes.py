"""Probes (tensor_stats, layer_stats, symmetry measures) and the activation conventions they rely on."""
import math
import warnings

import numpy as np
import pytest

import npnet
from npnet import activations, probes
from npnet.layers import Activation

STATS_KEYS = {"mean", "std", "mean_sq", "frac_zero", "frac_saturated", "frac_nonfinite", "hist_counts", "hist_edges"}


# ---------------------------------------------------------------- tensor_stats


def test_tensor_stats_on_a_known_array():
    x = np.array([[0.0, 0.0, 1.0, -1.0], [2.0, 0.5, -0.5, 0.0]])
    s = probes.tensor_stats(x, saturated=x > 0.9, bins=3, hist_range=(-1.0, 2.0))
    assert set(s) == STATS_KEYS
    assert s["mean"] == 0.25
    assert s["mean_sq"] == 6.5 / 8
    assert s["std"] == pytest.approx(math.sqrt(6.5 / 8 - 0.25 ** 2), rel=1e-15)
    assert s["frac_zero"] == 3 / 8
    assert s["frac_saturated"] == 2 / 8
    assert s["hist_edges"] == [-1.0, 0.0, 1.0, 2.0]
    assert s["hist_counts"] == [2, 4, 2]       # [-1, 0): -1, -0.5;  [0, 1): 0, 0, 0, 0.5;  [1, 2]: 1, 2
    assert sum(s["hist_counts"]) == x.size


def test_tensor_stats_is_json_ready_and_histogram_covers_everything():
    x = np.random.default_rng(0).normal(size=(37, 11)).astype(np.float32)
    s = probes.tensor_stats(x, bins=7)
    assert all(type(s[k]) is float for k in ("mean", "std", "mean_sq", "frac_zero"))
    assert s["frac_saturated"] is None
    assert len(s["hist_counts"]) == 7 and len(s["hist_edges"]) == 8
    assert sum(s["hist_counts"]) == x.size
    assert s["mean"] == pytest.approx(float(x.astype(np.float64).mean()), rel=1e-12)


def test_tensor_stats_of_a_constant_array():
    s = probes.tensor_stats(np.zeros((4, 5)))
    assert s["mean"] == s["std"] == s["mean_sq"] == 0.0
    assert s["frac_zero"] == 1.0
    assert sum(s["hist_counts"]) == 20


# ---------------------------------------------------------------- layer_stats


def forward_backward(activation="sigmoid", seed=0):
    rng = np.random.default_rng(seed)
    net = npnet.mlp([5, 7, 6, 3], activation, "xavier_normal", rng=rng)
    X = rng.normal(size=(10, 5))
    y = rng.integers(0, 3, 10)
    loss = npnet.SoftmaxCrossEntropy()
    loss.forward(net.forward(X), y)
    net.backward(loss.backward())
    return net


def test_layer_stats_keys_after_forward_and_backward():
    net = forward_backward("sigmoid")
    stats = probes.layer_stats(net, bins=5)
    assert [s["layer"] for s in stats] == ["fc1", "fc2", "fc3"]
    assert [s["activation"] for s in stats] == ["sigmoid", "sigmoid", "identity"]
    for s, layer, z, a in zip(stats, net.dense, net.preactivations, net.outputs):
        assert set(s) == {"layer", "activation", "preactivation", "output", "W", "grad_W", "grad_b"}
        for key in ("preactivation", "output", "W", "grad_W", "grad_b"):
            assert set(s[key]) == STATS_KEYS
            assert len(s[key]["hist_counts"]) == 5
        assert s["preactivation"]["mean"] == pytest.approx(z.mean(), rel=1e-12)
        assert s["output"]["mean"] == pytest.approx(a.mean(), rel=1e-12)
        assert s["W"]["mean_sq"] == pytest.approx(np.mean(layer.W ** 2), rel=1e-12)
        assert s["grad_W"]["mean"] == pytest.approx(layer.dW.mean(), rel=1e-12, abs=1e-300)
        assert s["grad_b"]["std"] == pytest.approx(layer.db.std(), rel=1e-12, abs=1e-300)
        assert sum(s["output"]["hist_counts"]) == a.size
    # saturation is measured where the activation can saturate
    assert stats[0]["output"]["frac_saturated"] is not None
    assert stats[2]["output"]["frac_saturated"] is None


def test_layer_stats_relu_has_no_saturation_and_counts_dead_units():
    net = forward_backward("relu")
    stats = probes.layer_stats(net)
    assert stats[0]["output"]["frac_saturated"] is None
    assert stats[0]["output"]["frac_zero"] == np.count_nonzero(net.outputs[0] == 0) / net.outputs[0].size


def test_layer_stats_needs_a_forward_pass():
    net = npnet.mlp([3, 4, 2], "tanh", rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="forward"):
        probes.layer_stats(net)


# ---------------------------------------------------------------- symmetry measures


def test_equal_rows():
    W = np.tile(np.random.default_rng(0).normal(size=(1, 9)), (6, 1))
    assert probes.row_spread(W) == 0.0
    assert probes.distinct_rows(W) == 1


def test_rows_that_differ_in_one_ulp_are_distinct():
    W = np.tile(np.random.default_rng(0).normal(size=(1, 9)), (6, 1))
    W[4, 7] = np.nextafter(W[4, 7], np.inf)
    assert probes.row_spread(W) > 0.0
    assert probes.distinct_rows(W) == 2


def test_random_rows_are_all_distinct():
    W = np.random.default_rng(0).normal(size=(6, 9))
    assert probes.distinct_rows(W) == 6
    assert probes.row_spread(W) == np.max(np.abs(W - W[0]))


@pytest.mark.parametrize("value", [0.7310585786300049, 0.1, 1 / 3, 0.0, -2.5e-7, 1e300])
@pytest.mark.parametrize("n", [3, 100, 101])
def test_unit_variance_exactly_zero_for_equal_units(value, n):
    A = np.full((4, n), value)
    assert probes.unit_variance(A) == 0.0


def test_unit_variance_zero_where_plain_var_is_not():
    # The motivating case: the mean of 100 copies of σ(1) need not round back to σ(1), so np.var is not 0.
    a = activations.sigmoid(np.ones((8, 100)))
    assert probes.unit_variance(a) == 0.0
    assert probes.unit_variance(np.float32(a)) == 0.0


def test_unit_variance_positive_otherwise():
    A = np.full((4, 100), 0.7310585786300049)
    A[2, 50] = np.nextafter(A[2, 50], 1.0)
    assert probes.unit_variance(A) > 0.0
    rng = np.random.default_rng(0)
    B = rng.normal(size=(50, 200))
    assert probes.unit_variance(B) == pytest.approx(np.var(B, axis=1).mean(), rel=1e-10)


# ---------------------------------------------------------------- activation conventions


EXTREME = np.array([-1e4, -1e3, -800.0, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e3, 1e4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_stable_and_has_exact_limits(dtype):
    z = EXTREME.astype(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        a = activations.sigmoid(z)
        grad = activations.sigmoid_grad(a)
    assert a.dtype == dtype
    assert np.all((a >= 0) & (a <= 1))
    assert np.all(np.diff(a) >= 0)                              # monotone
    assert a[0] == 0.0 and a[-1] == 1.0                         # exactly the limits at |z| = 1e4
    assert a[EXTREME == 0.0][0] == 0.5
    assert a[EXTREME == 40.0][0] == 1.0                         # 1 − σ(40) ≈ 4e-18 is below float64's ulp of 1
    assert 0.0 < a[EXTREME == -40.0][0] < 1e-17                 # the negative side keeps its precision
    assert grad[0] == 0.0 and grad[-1] == 0.0
    np.testing.assert_allclose(a[EXTREME == 1.0], 1 / (1 + math.exp(-1)), rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_sigmoid_symmetry_and_reference():
    z = np.linspace(-30, 30, 601)
    a = activations.sigmoid(z)
    np.testing.assert_allclose(a, 1.0 / (1.0 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(activations.sigmoid(-z), 1.0 - a, atol=1e-15)


def test_tanh_at_large_inputs_is_quiet():
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        a = activations.tanh(EXTREME)
    assert a[0] == -1.0 and a[-1] == 1.0


def test_relu_grad_at_zero_is_zero_by_default():
    z = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    assert activations.relu_grad(z).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_relu_grad_at_zero_can_be_one():
    z = np.array([-2.0, -0.0, 0.0, 1e-300, 3.0])
    assert activations.relu_grad(z, at_zero=1.0).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert z.tolist() == [-2.0, -0.0, 0.0, 1e-300, 3.0]          # input untouched


@pytest.mark.parametrize("at_zero, expected", [(0.0, [0.0, 0.0, 5.0]), (1.0, [0.0, 4.0, 5.0])])
def test_activation_layer_applies_the_relu_convention(at_zero, expected):
    layer = Activation("relu", relu_grad_at_zero=at_zero)
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    dA = np.array([[3.0, 4.0, 5.0]])
    assert layer.backward(dA).tolist() == [expected]
    assert dA.tolist() == [[3.0, 4.0, 5.0]]                       # backward never modifies its input


@pytest.mark.parametrize("at_zero", [0.0, 1.0])
def test_mlp_passes_the_relu_convention_on(at_zero):
    net = npnet.mlp([3, 4, 4, 2], "relu", "zeros", rng=np.random.default_rng(0), relu_grad_at_zero=at_zero)
    relus = [layer for layer in net.layers if isinstance(layer, Activation)]
    assert len(relus) == 2 and all(layer.relu_grad_at_zero == at_zero for layer in relus)


def test_an_all_zero_relu_net_learns_only_its_output_bias_under_the_default_convention():
    # relu'(0) = 0: in an all-zero ReLU network every hidden pre-activation is exactly 0, so no gradient reaches
    # the hidden layers; with relu'(0) = 1 they do get one. This is the documented, pinned choice.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    grads = {}
    for at_zero in (0.0, 1.0):
        net = npnet.mlp([3, 4, 4, 2], "relu", "zeros", rng=rng, relu_grad_at_zero=at_zero)
        net.dense[-1].W[...] = rng.normal(size=(2, 4))   # a non-zero output layer, so δ reaches the relus
        loss = npnet.SoftmaxCrossEntropy()
        loss.forward(net.forward(X), y)
        net.backward(loss.backward())
        grads[at_zero] = net.dense[1].db.copy()
    assert np.all(grads[0.0] == 0.0)
    assert np.any(grads[1.0] != 0.0)


def test_saturated_masks():
    sig = np.array([0.001, 0.5, 0.98, 0.995])
    tanh = np.array([-0.995, 0.0, 0.98, 0.999])
    assert activations.saturated("sigmoid", sig).tolist() == [True, False, False, True]
    assert activations.saturated("tanh", tanh).tolist() == [True, False, False, True]
    assert activations.saturated("relu", sig) is None and activations.saturated("identity", sig) is None


def test_tensor_stats_of_a_diverged_array_counts_nonfinite_and_describes_the_rest():
    s = probes.tensor_stats(np.array([1.0, np.nan, np.inf, 3.0]))
    assert s["frac_nonfinite"] == 0.5
    assert s["mean"] == 2.0 and sum(s["hist_counts"]) == 2


def test_gradients_at_all_zero_relu_net_only_the_output_bias_has_gradient():
    rng = np.random.default_rng(0)
    net = npnet.mlp([6, 5, 3], "relu", "zeros", rng=rng)
    g = probes.gradients_at(net, rng.standard_normal((8, 6)), rng.integers(0, 3, 8))
    assert g["zero_gradients"] == ["fc1.W", "fc1.b", "fc2.W"]
    assert g["l1_all"] == g["l1_output_bias"] > 0


def test_changed_parameters_names_exactly_what_training_moved():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    net = npnet.mlp([6, 5, 3], "relu", "zeros", rng=rng, products="exact")
    before = net.get_weights()
    assert probes.changed_parameters(before, net) == []
    npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=0.1), epochs=2, batch_size=8, rng=rng, eval_train=False)
    assert probes.changed_parameters(before, net) == ["fc2.b"]       # all-zero ReLU net: only the output bias
    net.set_weights({**net.get_weights(), "fc1.W": np.full((5, 6), 1e-300)})   # any bitwise change counts
    assert probes.changed_parameters(before, net) == ["fc1.W", "fc2.b"]


def test_leaky_relu_and_selu_forward():
    z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert activations.leaky_relu(z).tolist() == [-0.02, -0.005, 0.0, 0.5, 2.0]
    s = activations.selu(z)
    assert s[3:].tolist() == (activations.SELU_SCALE * z[3:]).tolist() and s[2] == 0.0
    assert s[0] == pytest.approx(activations.SELU_SCALE * activations.SELU_ALPHA * (math.exp(-2.0) - 1.0))
    assert np.isfinite(activations.selu(np.array([-1e4]))).all()
