"""Initializers: shapes, dtypes, the formulas' moments on large draws, the gain table, seeding, bad arguments."""
import math

import numpy as np
import pytest

import npnet
from npnet import init

# Initializers that draw from the rng (zeros and constant do not).
RANDOM = sorted(name for name in init.INITIALIZERS if name not in ("zeros", "ones", "constant"))
# The bias (out,) has no fans of its own; the layer passes the weight's. orthogonal needs >= 2 dimensions.
BIAS_OK = sorted(name for name in init.INITIALIZERS if name != "orthogonal")

# Large enough that sample moments are within ~0.2% of the population's: n = 2e6 draws,
# relative standard error of a sample std ≈ 1/√(2n) ≈ 5e-4 for a normal (less for a uniform).
FAN_OUT, FAN_IN = 1000, 2000
BIG = (FAN_OUT, FAN_IN)
N_BIG = FAN_OUT * FAN_IN
STD_RTOL = 5e-3          # ~10 standard errors of the sample std


def draw(name, shape=BIG, seed=0, **params):
    return init.get(name, **params)(shape, np.random.default_rng(seed))


def assert_moments(W, mean, std, rtol=STD_RTOL):
    """Sample mean within 6 standard errors of ``mean``; sample std within ``rtol`` of ``std``."""
    assert abs(W.mean() - mean) < 6 * std / math.sqrt(W.size)
    assert W.std() == pytest.approx(std, rel=rtol)


# ---------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weight_shape_and_dtype(name, dtype):
    W = init.initialize(name, (5, 7), np.random.default_rng(0), dtype=dtype)
    assert W.shape == (5, 7)
    assert W.dtype == dtype
    assert np.all(np.isfinite(W))


@pytest.mark.parametrize("name", BIAS_OK)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_shape_and_dtype_with_fans_passed(name, dtype):
    b = init.initialize(name, (5,), np.random.default_rng(0), dtype=dtype, fan_in=7, fan_out=5)
    assert b.shape == (5,)
    assert b.dtype == dtype


@pytest.mark.parametrize("name", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "lecun_normal",
                                  "torch_default"])
def test_bias_without_fans_is_an_error(name):
    with pytest.raises(ValueError, match="fan_in and fan_out"):
        init.initialize(name, (5,), np.random.default_rng(0))


@pytest.mark.parametrize("name", ["xavier_normal", "he_normal", "normal", "orthogonal", "torch_default"])
def test_float32_is_the_float64_draw_rounded(name):
    w64 = init.initialize(name, (6, 9), np.random.default_rng(3), dtype=np.float64)
    w32 = init.initialize(name, (6, 9), np.random.default_rng(3), dtype=np.float32)
    assert np.array_equal(w32, w64.astype(np.float32))


def test_dense_layer_uses_out_in_layout_and_dtype():
    layer = npnet.Dense(7, 3, weight_init="he_normal", bias_init="torch_default",
                        rng=np.random.default_rng(0), dtype=np.float32)
    assert layer.W.shape == (3, 7) and layer.b.shape == (3,)
    assert layer.W.dtype == layer.b.dtype == layer.dW.dtype == layer.db.dtype == np.float32


def test_fans_follow_the_out_in_layout():
    assert init.fans((3, 7)) == (7, 3)
    assert init.fans((3, 7, 2, 2)) == (28, 12)       # receptive field multiplies both fans
    assert init.fans((5,), fan_in=7, fan_out=5) == (7, 5)


# ---------------------------------------------------------------- zeros, constant


def test_zeros_and_constant_need_no_rng():
    assert np.array_equal(init.zeros((3, 4)), np.zeros((3, 4)))
    c = init.constant((3, 4), value=0.05)
    assert np.all(c == 0.05)
    assert init.initialize(("constant", {"value": -2.5}), (2,), None, fan_in=1, fan_out=2).tolist() == [-2.5, -2.5]


# ---------------------------------------------------------------- moments against the formulas


def test_xavier_normal_std():
    W = draw("xavier_normal")
    assert_moments(W, 0.0, math.sqrt(2.0 / (FAN_IN + FAN_OUT)))


def test_xavier_normal_gain_scales_std():
    W = draw("xavier_normal", gain=5.0 / 3.0)
    assert_moments(W, 0.0, 5.0 / 3.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT)))


def test_xavier_uniform_bound_and_std():
    bound = math.sqrt(6.0 / (FAN_IN + FAN_OUT))
    W = draw("xavier_uniform")
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.999 * bound        # the bound is actually reached, not a smaller one
    assert_moments(W, 0.0, bound / math.sqrt(3.0))


@pytest.mark.parametrize("alias", ["xavier", "glorot", "glorot_uniform"])
def test_xavier_aliases_are_the_uniform_draw(alias):
    assert np.array_equal(draw(alias, (4, 6), seed=1), draw("xavier_uniform", (4, 6), seed=1))


@pytest.mark.parametrize("alias", ["he", "kaiming", "kaiming_normal"])
def test_he_aliases_are_the_normal_draw(alias):
    assert np.array_equal(draw(alias, (4, 6), seed=1), draw("he_normal", (4, 6), seed=1))


def test_lecun_is_not_xavier():
    assert init.INITIALIZERS["lecun"] is init.lecun_normal
    assert init.INITIALIZERS["xavier_normal"] is not init.lecun_normal


@pytest.mark.parametrize("mode, fan", [("fan_in", FAN_IN), ("fan_out", FAN_OUT)])
def test_he_normal_std_by_mode(mode, fan):
    W = draw("he_normal", mode=mode)
    assert_moments(W, 0.0, math.sqrt(2.0) / math.sqrt(fan))


def test_he_normal_default_mode_is_fan_in_for_relu():
    assert np.array_equal(draw("he_normal", (30, 50)), draw("he_normal", (30, 50), mode="fan_in",
                                                            nonlinearity="relu"))


@pytest.mark.parametrize("mode, fan", [("fan_in", FAN_IN), ("fan_out", FAN_OUT)])
def test_he_uniform_bound_and_std(mode, fan):
    bound = math.sqrt(6.0 / fan)
    W = draw("he_uniform", mode=mode)
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.999 * bound
    assert_moments(W, 0.0, bound / math.sqrt(3.0))


def test_he_normal_leaky_relu_slope():
    W = draw("he_normal", nonlinearity="leaky_relu", a=0.2)
    assert_moments(W, 0.0, math.sqrt(2.0 / (1.0 + 0.04)) / math.sqrt(FAN_IN))


def test_lecun_normal_std():
    assert_moments(draw("lecun_normal"), 0.0, 1.0 / math.sqrt(FAN_IN))


def test_torch_default_weight_bound():
    bound = 1.0 / math.sqrt(FAN_IN)
    W = draw("torch_default")
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.999 * bound
    assert_moments(W, 0.0, bound / math.sqrt(3.0))


def test_torch_default_bias_through_mlp_uses_the_weight_fan_in():
    net = npnet.mlp([100, 5000, 3], "relu", "torch_default", rng=np.random.default_rng(0))
    b1, b2 = net.dense[0].b, net.dense[1].b
    bound1, bound2 = 1.0 / math.sqrt(100), 1.0 / math.sqrt(5000)
    assert np.abs(b1).max() <= bound1
    assert np.abs(b1).max() > 0.99 * bound1
    # 5000 draws: the sample std of a uniform is within ~1.3% (1 standard error); allow 6%
    assert_moments(b1, 0.0, bound1 / math.sqrt(3.0), rtol=0.06)
    assert np.abs(b2).max() <= bound2 and np.any(b2 != 0)


def test_torch_default_bias_through_dense():
    layer = npnet.Dense(400, 20000, weight_init="zeros", bias_init="torch_default", rng=np.random.default_rng(1))
    bound = 1.0 / math.sqrt(400)
    assert np.abs(layer.b).max() <= bound
    assert_moments(layer.b, 0.0, bound / math.sqrt(3.0), rtol=0.03)


def test_mlp_default_bias_is_zero_except_for_torch_default():
    rng = np.random.default_rng(0)
    assert all(np.all(layer.b == 0) for layer in npnet.mlp([4, 5, 3], "relu", "he_normal", rng=rng).dense)
    assert all(np.all(layer.b != 0) for layer in npnet.mlp([4, 5, 3], "relu", "torch_default", rng=rng).dense)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.0, 0.01), (3.0, 0.5), (-1.0, 2.0)])
def test_normal_mean_and_std(mean, std):
    assert_moments(draw("normal", mean=mean, std=std), mean, std)


def test_normal_with_zero_std_is_the_mean():
    assert np.all(draw("normal", (3, 4), mean=0.25, std=0.0) == 0.25)


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (-0.5, 0.5), (2.0, 5.0)])
def test_uniform_range_and_moments(a, b):
    W = draw("uniform", a=a, b=b)
    assert W.min() >= a and W.max() < b
    assert_moments(W, (a + b) / 2.0, (b - a) / math.sqrt(12.0))


def test_uniform_default_is_unit_interval():
    W = draw("uniform", (200, 300))
    assert W.min() >= 0.0 and W.max() < 1.0 and 0.45 < W.mean() < 0.55


@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (7, 7), (1, 4), (4, 1), (64, 784), (300, 100)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal(shape, gain):
    W = draw("orthogonal", shape, seed=2, gain=gain)
    out, in_ = shape
    if out <= in_:
        np.testing.assert_allclose(W @ W.T, gain ** 2 * np.eye(out), atol=1e-12)
    else:
        np.testing.assert_allclose(W.T @ W, gain ** 2 * np.eye(in_), atol=1e-12)


def test_orthogonal_is_haar_not_biased_by_qr_signs():
    # Householder QR alone gives a Q whose diagonal has a systematic sign (mean ≈ ±0.47 for 3×3); folding
    # sign(diag R) into Q, as torch does, makes Q Haar-distributed, so each diagonal entry averages ≈ 0.
    diag = np.array([np.diag(draw("orthogonal", (3, 3), seed=s)) for s in range(400)])
    assert np.all(np.abs(diag.mean(axis=0)) < 0.15)


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="orthogonal needs"):
        init.orthogonal((5,), np.random.default_rng(0))


# ---------------------------------------------------------------- gain: torch.nn.init.calculate_gain's table


@pytest.mark.parametrize("nonlinearity, expected", [
    ("linear", 1.0),
    ("identity", 1.0),
    ("sigmoid", 1.0),
    ("tanh", 5.0 / 3.0),
    ("relu", math.sqrt(2.0)),
    ("selu", 3.0 / 4.0),
    ("leaky_relu", math.sqrt(2.0 / (1.0 + 0.01 ** 2))),    # default negative slope 0.01
])
def test_gain_table(nonlinearity, expected):
    assert init.calculate_gain(nonlinearity) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, 3])
def test_gain_leaky_relu_param(slope):
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(math.sqrt(2.0 / (1.0 + slope ** 2)), rel=1e-15)


def test_gain_errors():
    with pytest.raises(ValueError, match="nonlinearity.*valid options"):
        init.calculate_gain("softplus")
    with pytest.raises(TypeError, match="param"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(TypeError, match="nonlinearity"):
        init.calculate_gain(None)


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_array_other_seed_other_array(name):
    a = draw(name, (6, 8), seed=11)
    b = draw(name, (6, 8), seed=11)
    c = draw(name, (6, 8), seed=12)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_mlp_same_seed_same_weights():
    w1 = npnet.mlp([5, 6, 3], "tanh", "xavier_normal", bias_init=("normal", {"std": 0.1}),
                   rng=np.random.default_rng(9)).get_weights()
    w2 = npnet.mlp([5, 6, 3], "tanh", "xavier_normal", bias_init=("normal", {"std": 0.1}),
                   rng=np.random.default_rng(9)).get_weights()
    w3 = npnet.mlp([5, 6, 3], "tanh", "xavier_normal", bias_init=("normal", {"std": 0.1}),
                   rng=np.random.default_rng(10)).get_weights()
    assert w1.keys() == w2.keys() == {"fc1.W", "fc1.b", "fc2.W", "fc2.b"}
    assert all(w1[k].tobytes() == w2[k].tobytes() for k in w1)
    assert all(not np.array_equal(w1[k], w3[k]) for k in w1)


# ---------------------------------------------------------------- specs and bad arguments


def test_spec_forms_agree():
    shape, rng = (4, 5), np.random.default_rng
    by_pair = init.initialize(("normal", {"std": 0.1}), shape, rng(0))
    by_kwargs = init.get("normal", std=0.1)(shape, rng(0))
    by_callable = init.initialize(lambda s, r, **kw: init.normal(s, r, std=0.1, **kw), shape, rng(0))
    assert np.array_equal(by_pair, by_kwargs) and np.array_equal(by_pair, by_callable)


@pytest.mark.parametrize("spec, params, error, match", [
    ("he_normall", {}, ValueError, "unknown initializer 'he_normall'; valid options:.*he_normal"),
    (42, {}, TypeError, "initializer must be a name"),
    (("normal", 0.1, 2), {}, TypeError, "initializer tuple"),
    (("he_normal", 2.0), {}, TypeError, r"\('he_normal', number\) is not a shorthand.*normal"),
    (("normal", -0.1), {}, ValueError, "std"),
    (("normal", "0.1"), {}, TypeError, "initializer tuple"),
    (("normal", {"sd": 0.1}), {}, TypeError, "bad parameters for initializer.*sd"),
    ("zeros", {"value": 1.0}, TypeError, "bad parameters for initializer.*value"),
    ("normal", {"std": -1.0}, ValueError, "std"),
    ("normal", {"std": float("nan")}, ValueError, "std"),
    ("normal", {"std": "big"}, TypeError, "std"),
    ("normal", {"mean": float("inf")}, ValueError, "mean"),
    ("uniform", {"a": 1.0, "b": 1.0}, ValueError, "a < b"),
    ("uniform", {"a": 2.0, "b": 1.0}, ValueError, "a < b"),
    ("constant", {"value": float("nan")}, ValueError, "value"),
    ("constant", {"value": "x"}, TypeError, "value"),
    ("he_normal", {"mode": "fan_avg"}, ValueError, "unknown mode 'fan_avg'"),
    ("he_normal", {"nonlinearity": "gelu"}, ValueError, "nonlinearity"),
])
def test_bad_specs_and_params(spec, params, error, match):
    with pytest.raises(error, match=match):
        init.initialize((spec, params) if params else spec, (3, 4), np.random.default_rng(0))


@pytest.mark.parametrize("name", RANDOM)
def test_random_initializers_need_a_generator(name):
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.initialize(name, (3, 4), np.random.RandomState(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.initialize(name, (3, 4), None)


@pytest.mark.parametrize("shape, error", [((3, 0), ValueError), ((-1, 4), ValueError), ((3, 2.0), TypeError),
                                          ((True, 3), TypeError)])
def test_bad_shapes(shape, error):
    with pytest.raises(error, match="shape entries"):
        init.initialize("zeros", shape, None)


# ---------------------------------------------------------------- per-layer inits in mlp


def test_mixed_per_layer_inits_zero_the_first_layer_only():
    net = npnet.mlp([6, 8, 7, 3], "relu", ["zeros", "he_normal", "xavier_normal"], rng=np.random.default_rng(0))
    W = [layer.W for layer in net.dense]
    assert np.all(W[0] == 0)
    assert np.all(W[1] != 0) and np.all(W[2] != 0)
    assert all(np.all(layer.b == 0) for layer in net.dense)


def test_per_layer_bias_inits():
    net = npnet.mlp([6, 8, 3], "tanh", "xavier_normal", [("constant", {"value": 0.5}), "zeros"],
                    rng=np.random.default_rng(0))
    assert np.all(net.dense[0].b == 0.5) and np.all(net.dense[1].b == 0)


def test_per_layer_init_draws_in_layer_order():
    # Every draw comes from the one rng, layer by layer, W before b: a net equals its layers drawn by hand.
    net = npnet.mlp([4, 5, 3], "relu", "he_normal", ("normal", {"std": 0.1}), rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    W1 = init.he_normal((5, 4), rng)
    b1 = init.normal((5,), rng, std=0.1)
    W2 = init.he_normal((3, 5), rng)
    for got, want in zip([p.value for p in net.parameters()], [W1, b1, W2]):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("label", list(init.DEPTH_INITS))
def test_depth_inits_variance_formula_matches_the_draws(label):
    spec, var_w = init.DEPTH_INITS[label]
    fan_out, fan_in = 300, 500
    W = init.initialize(spec, (fan_out, fan_in), np.random.default_rng(0))
    assert W.var() == pytest.approx(var_w(fan_in, fan_out), rel=0.02)
