"""Training: optimizers against hand-computed updates, gradient bookkeeping, determinism, dtypes, train/evaluate."""
import math

import numpy as np
import pytest

import npnet
from npnet import Adam, SGD, SoftmaxCrossEntropy, evaluate, mlp, train
from npnet.network import Param


def blobs(seed, n=200, d=2, sep=3.0):
    """Two linearly separable Gaussian blobs centred at ±sep/2 on every axis; labels 0/1 (int64)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) + sep * (y[:, None] - 0.5)
    return X, y


# ---------------------------------------------------------------- learning a separable problem


OPTIMIZERS = {
    "sgd": lambda net: SGD(net, lr=0.5),
    "momentum": lambda net: SGD(net, lr=0.05, momentum=0.9),
    "adam": lambda net: Adam(net, lr=0.02),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_training_drives_the_loss_down(opt, activation):
    X, y = blobs(0)
    X_test, y_test = blobs(1)
    rng = np.random.default_rng(2)
    net = mlp([2, 8, 2], activation, "xavier_normal", rng=rng)
    before = evaluate(net, X, y, loss="softmax_cross_entropy")["loss"]
    history = train(net, X, y, optimizer=OPTIMIZERS[opt](net), epochs=15, batch_size=20, rng=rng,
                    X_test=X_test, y_test=y_test)
    after = evaluate(net, X, y, loss="softmax_cross_entropy")
    assert after["loss"] < 0.5 * before
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert after["accuracy"] >= 0.95
    assert history["test_acc"][-1] >= 0.9


def test_mse_training_drives_the_loss_down():
    X, y = blobs(3)
    rng = np.random.default_rng(4)
    net = mlp([2, 8, 2], "tanh", "xavier_normal", rng=rng)
    before = evaluate(net, X, y, loss="mse")["loss"]
    train(net, X, y, optimizer=SGD(net, lr=0.2, momentum=0.5), epochs=20, batch_size=20, rng=rng, loss="mse")
    after = evaluate(net, X, y, loss="mse")
    assert after["loss"] < 0.5 * before
    assert after["accuracy"] >= 0.95


# ---------------------------------------------------------------- optimizers against hand-computed updates


def one_param(theta0, shape=(1,)):
    value = np.full(shape, theta0, dtype=np.float64)
    grad = np.zeros(shape)
    return Param("theta", value, grad)


@pytest.mark.parametrize("eps", [1e-8, 0.1])
def test_adam_first_three_steps_match_the_pytorch_formula(eps):
    lr, beta1, beta2 = 0.1, 0.9, 0.999
    p = one_param(1.0)
    opt = Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    theta, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -2.0, 0.1], start=1):       # bias correction counts from t = 1
        p.grad[...] = g
        opt.step()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        # torch.optim.Adam: denom = √v / √(1 − β2^t) + ε;  θ -= (lr / (1 − β1^t)) · m / denom
        theta -= (lr / (1 - beta1 ** t)) * m / (math.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps)
        assert opt.t == t
        assert p.value[0] == pytest.approx(theta, rel=1e-14, abs=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # With bias correction from t = 1, m̂ = g and √v̂ = |g| at the first step: every entry moves by lr·sign(g)
    # (up to ε), whatever the gradient's size. Counting from t = 0 would divide by zero instead.
    p = one_param(0.0, (5,))
    g = np.array([3.0, -0.001, 250.0, -7.5, 1e-3])
    opt = Adam([p], lr=0.01)
    p.grad[...] = g
    opt.step()
    np.testing.assert_allclose(p.value, -0.01 * np.sign(g), rtol=1e-4)
    assert np.all(np.isfinite(p.value))


def test_adam_hand_values():
    # The formula above, evaluated once by hand: g = 0.5 → θ1 = 1 − 0.1·0.5/(0.5 + 1e-8)
    p = one_param(1.0)
    opt = Adam([p], lr=0.1)
    p.grad[...] = 0.5
    opt.step()
    assert p.value[0] == pytest.approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-15)
    assert p.value[0] == pytest.approx(0.9000000019999999, rel=1e-15)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_momentum_matches_hand_computation(momentum):
    lr = 0.1
    p = one_param(2.0, (3,))
    opt = SGD([p], lr=lr, momentum=momentum)
    theta, vel = np.full(3, 2.0), np.zeros(3)
    for g in ([1.0, -1.0, 0.5], [0.25, 2.0, -3.0], [-1.0, 0.0, 0.125], [0.0, 0.0, 0.0]):
        g = np.array(g)
        p.grad[...] = g
        opt.step()
        vel = momentum * vel + g          # v = μv + g  (no dampening: PyTorch's default)
        theta = theta - lr * vel          # θ -= lr·v
        np.testing.assert_allclose(p.value, theta, rtol=1e-15, atol=1e-15)


def test_sgd_momentum_keeps_moving_with_zero_gradient():
    p = one_param(0.0)
    opt = SGD([p], lr=1.0, momentum=0.5)
    p.grad[...] = 1.0
    opt.step()
    p.grad[...] = 0.0
    opt.step()
    opt.step()
    assert p.value[0] == -(1.0 + 0.5 + 0.25)


def test_optimizer_updates_values_in_place_through_network_parameters():
    rng = np.random.default_rng(0)
    net = mlp([3, 4, 2], "tanh", "xavier_normal", rng=rng)
    ids = [id(p.value) for p in net.parameters()]
    before = net.get_weights()
    loss = SoftmaxCrossEntropy()
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    loss.forward(net.forward(X), y)
    net.backward(loss.backward())
    SGD(net, lr=0.1).step()
    assert [id(p.value) for p in net.parameters()] == ids
    for p in net.parameters():
        np.testing.assert_allclose(p.value, before[p.name] - 0.1 * p.grad, rtol=1e-15, atol=1e-15)


# ---------------------------------------------------------------- gradients are set, not accumulated


def grads_of(net):
    return {p.name: p.grad.copy() for p in net.parameters()}


def test_backward_twice_gives_identical_gradients():
    rng = np.random.default_rng(0)
    net = mlp([4, 6, 5, 3], "sigmoid", "xavier_normal", rng=rng)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    loss = SoftmaxCrossEntropy()
    loss.forward(net.forward(X), y)
    dout = loss.backward()
    dout_copy = dout.copy()
    net.backward(dout)
    first = grads_of(net)
    net.backward(dout)
    second = grads_of(net)
    assert np.array_equal(dout, dout_copy)                     # backward never modifies its input
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert any(np.any(g != 0) for g in first.values())


def test_a_second_forward_backward_replaces_the_gradients():
    rng = np.random.default_rng(1)
    net = mlp([4, 6, 3], "tanh", "xavier_normal", rng=rng)
    twin = mlp([4, 6, 3], "tanh", "zeros", rng=rng)
    twin.set_weights(net.get_weights())
    loss = SoftmaxCrossEntropy()
    X1, y1 = rng.normal(size=(8, 4)), rng.integers(0, 3, 8)
    X2, y2 = rng.normal(size=(5, 4)), rng.integers(0, 3, 5)
    loss.forward(net.forward(X1), y1)
    net.backward(loss.backward())
    after_first = grads_of(net)
    loss.forward(net.forward(X2), y2)
    net.backward(loss.backward())
    loss.forward(twin.forward(X2), y2)                          # the twin only ever saw X2
    twin.backward(loss.backward())
    got, want = grads_of(net), grads_of(twin)
    assert all(np.array_equal(got[k], want[k]) for k in got)
    assert all(not np.array_equal(got[k], after_first[k]) for k in got)


def test_network_backward_returns_input_gradient_on_request():
    rng = np.random.default_rng(2)
    net = mlp([4, 6, 3], "tanh", "xavier_normal", rng=rng)
    X = rng.normal(size=(5, 4))
    out = net.forward(X)
    assert net.backward(np.ones_like(out)) is None
    dX = net.backward(np.ones_like(out), need_dX=True)
    assert dX.shape == X.shape
    # d(Σ out)/dX by a central difference on one entry
    h = 1e-6
    Xp, Xm = X.copy(), X.copy()
    Xp[2, 1] += h
    Xm[2, 1] -= h
    numeric = (net.forward(Xp).sum() - net.forward(Xm).sum()) / (2 * h)
    assert dX[2, 1] == pytest.approx(numeric, rel=1e-7)


# ---------------------------------------------------------------- determinism and dtypes


def run(seed, opt, activation="relu", dtype=np.float64, products="blas"):
    X, y = blobs(10, n=120, d=5)
    net = mlp([5, 16, 12, 2], activation, "he_normal", ("normal", {"std": 0.1}), rng=np.random.default_rng(seed),
              dtype=dtype, products=products)
    optimizer = {"sgd": lambda: SGD(net, lr=0.05, momentum=0.9), "adam": lambda: Adam(net, lr=0.01)}[opt]()
    history = train(net, X, y, optimizer=optimizer, epochs=3, batch_size=16, rng=np.random.default_rng(seed + 1))
    return net, history


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_seed_gives_identical_bytes(opt, dtype):
    (net1, h1), (net2, h2) = run(5, opt, dtype=dtype), run(5, opt, dtype=dtype)
    for p1, p2 in zip(net1.parameters(), net2.parameters()):
        assert p1.name == p2.name
        assert p1.value.tobytes() == p2.value.tobytes()
    assert h1 == h2
    net3, _ = run(6, opt, dtype=dtype)
    assert any(not np.array_equal(p1.value, p3.value) for p1, p3 in zip(net1.parameters(), net3.parameters()))


def test_exact_mode_is_deterministic_too():
    (net1, _), (net2, _) = run(7, "adam", products="exact"), run(7, "adam", products="exact")
    assert all(p1.value.tobytes() == p2.value.tobytes() for p1, p2 in zip(net1.parameters(), net2.parameters()))


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_float32_stays_float32_end_to_end(opt, activation):
    X, y = blobs(11, n=60, d=5)            # float64 data: the network casts it
    seen = []

    def on_step(epoch, step, net, value):
        seen.extend(a.dtype for a in net.outputs + net.preactivations)
        seen.extend(p.grad.dtype for p in net.parameters())

    net = mlp([5, 8, 6, 2], activation, "xavier_normal", rng=np.random.default_rng(0), dtype="float32")
    optimizer = SGD(net, lr=0.1, momentum=0.9) if opt == "sgd" else Adam(net, lr=0.01)
    train(net, X, y, optimizer=optimizer, epochs=2, batch_size=16, rng=np.random.default_rng(1), on_step=on_step)
    assert seen and set(seen) == {np.dtype(np.float32)}
    assert net.dtype is np.float32
    assert all(p.value.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())
    out = net.forward(X)
    assert out.dtype == np.float32
    for loss in (npnet.SoftmaxCrossEntropy(), npnet.MSE()):
        loss.forward(out, y)
        assert loss.backward().dtype == np.float32
    assert net.backward(np.ones_like(out), need_dX=True).dtype == np.float32
    assert net.predict(X).dtype.kind == "i"


def test_float64_is_the_default():
    net = mlp([3, 4, 2], "tanh", rng=np.random.default_rng(0))
    assert net.dtype is np.float64
    assert all(p.value.dtype == np.float64 for p in net.parameters())
    assert net.forward(np.ones((2, 3), dtype=np.float32)).dtype == np.float64


# ---------------------------------------------------------------- train: history, callbacks, divergence


def test_history_keys_and_lengths():
    X, y = blobs(0, n=50)
    Xt, yt = blobs(1, n=30)
    net = mlp([2, 4, 2], "tanh", rng=np.random.default_rng(0))
    h = train(net, X, y, optimizer=SGD(net, lr=0.1), epochs=4, batch_size=16, rng=np.random.default_rng(1),
              X_test=Xt, y_test=yt)
    assert set(h) == {"epoch", "train_loss", "train_acc", "test_acc", "test_loss"}
    assert h["epoch"] == [1, 2, 3, 4]
    assert all(len(v) == 4 for v in h.values())
    assert all(type(v) is float and math.isfinite(v) for v in h["train_loss"])
    assert all(0.0 <= a <= 1.0 for a in h["train_acc"] + h["test_acc"])
    assert h["train_acc"][-1] == evaluate(net, X, y)["accuracy"]
    assert h["test_acc"][-1] == evaluate(net, Xt, yt)["accuracy"]
    assert h["test_loss"][-1] == evaluate(net, Xt, yt, loss="softmax_cross_entropy")["loss"]


def test_history_without_test_set_or_train_eval():
    X, y = blobs(0, n=50)
    net = mlp([2, 4, 2], "tanh", rng=np.random.default_rng(0))
    h = train(net, X, y, optimizer=SGD(net, lr=0.1), epochs=2, batch_size=50, rng=np.random.default_rng(1),
              eval_train=False)
    assert h["train_acc"] == [None, None] and h["test_acc"] == [None, None]
    assert len(h["train_loss"]) == 2


def test_callbacks_get_the_documented_arguments():
    X, y = blobs(0, n=50)
    net = mlp([2, 4, 2], "tanh", rng=np.random.default_rng(0))
    start = net.get_weights()
    steps, epochs = [], []

    def on_step(epoch, step, net_, value):
        assert net_ is net
        steps.append((epoch, step, value))

    def on_epoch(epoch, net_, history):
        assert net_ is net
        assert history["epoch"][-1] == epoch and len(history["train_loss"]) == epoch
        epochs.append(epoch)

    h = train(net, X, y, optimizer=SGD(net, lr=0.1), epochs=3, batch_size=16, rng=np.random.default_rng(1),
              on_step=on_step, on_epoch=on_epoch)
    # 50 samples in batches of 16: 4 steps per epoch (the last has 2 samples), steps count from 1 per epoch
    assert [(e, s) for e, s, _ in steps] == [(e, s) for e in (1, 2, 3) for s in (1, 2, 3, 4)]
    assert epochs == [1, 2, 3]
    assert all(type(v) is float for _, _, v in steps)
    for e in (1, 2, 3):
        values = [v for ep, _, v in steps if ep == e]
        assert h["train_loss"][e - 1] == pytest.approx(sum(values) / len(values), rel=1e-15)
    # the first step's loss is the starting network's loss on the first shuffled batch
    first = np.random.default_rng(1).permutation(50)[:16]
    fresh = mlp([2, 4, 2], "tanh", rng=np.random.default_rng(0))
    fresh.set_weights(start)
    assert steps[0][2] == pytest.approx(SoftmaxCrossEntropy().forward(fresh.forward(X[first]), y[first]),
                                        rel=1e-14)


def test_every_sample_is_used_once_per_epoch():
    X, y = blobs(2, n=37)
    batches = []
    net = mlp([2, 3, 2], "tanh", rng=np.random.default_rng(0))

    class Spy(SGD):
        def step(self):
            batches.append(net.dense[0]._X.copy())       # the minibatch the gradient was computed on
            super().step()

    train(net, X, y, optimizer=Spy(net, lr=0.01), epochs=2, batch_size=10, rng=np.random.default_rng(1))
    assert [b.shape[0] for b in batches] == [10, 10, 10, 7] * 2
    for epoch in (batches[:4], batches[4:]):
        rows = np.concatenate(epoch)
        assert np.array_equal(rows[np.lexsort(rows.T)], X[np.lexsort(X.T)])     # a permutation of X
    assert not np.array_equal(np.concatenate(batches[:4]), np.concatenate(batches[4:]))   # reshuffled


def test_diverging_run_raises_floating_point_error():
    X, y = blobs(0, n=64, d=4)
    net = mlp([4, 32, 32, 2], "relu", "he_normal", rng=np.random.default_rng(0))
    # the step before the loss turns inf/NaN overflows in backward; those RuntimeWarnings are not the subject here
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError, match=r"loss became (nan|inf) at epoch \d+, step \d+ of 4; "
                                                    r"the weights diverged"):
        train(net, X, y, optimizer=SGD(net, lr=1e6), epochs=50, batch_size=16, rng=np.random.default_rng(1),
              loss="mse")


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "mse"])
def test_overflowing_logits_raise_at_the_first_step_without_updating(loss):
    X, y = blobs(0, n=40, d=3)
    # weights of 1e200: products of two of them overflow, so the first logits are ±inf or NaN
    net = mlp([3, 5, 2], "identity", ("constant", {"value": 1e200}), rng=np.random.default_rng(0))
    before = net.get_weights()
    with pytest.raises(FloatingPointError, match=r"loss became (nan|inf) at epoch 1, step 1 of 3"):
        train(net, X, y, optimizer=SGD(net, lr=0.1), epochs=2, batch_size=16, rng=np.random.default_rng(1),
              loss=loss)
    after = net.get_weights()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_evaluate_accuracy_and_loss():
    X, y = blobs(5, n=103)
    net = mlp([2, 5, 2], "sigmoid", "xavier_normal", rng=np.random.default_rng(0))
    result = evaluate(net, X, y, loss="softmax_cross_entropy")
    assert set(result) == {"accuracy", "loss"}
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["accuracy"] == np.mean(net.predict(X) == y)
    assert result["loss"] == pytest.approx(SoftmaxCrossEntropy().forward(net.forward(X), y), rel=1e-12)
    small = evaluate(net, X, y, loss="softmax_cross_entropy", batch_size=10)
    assert small["accuracy"] == result["accuracy"]
    assert small["loss"] == pytest.approx(result["loss"], rel=1e-12)
    assert evaluate(net, X, y)["loss"] is None


def test_evaluate_extremes():
    X = np.zeros((4, 2))
    net = mlp([2, 3, 2], "relu", "zeros", rng=np.random.default_rng(0))
    net.dense[-1].b[...] = [1.0, 0.0]                 # always predicts class 0
    assert evaluate(net, X, np.zeros(4, dtype=int))["accuracy"] == 1.0
    assert evaluate(net, X, np.ones(4, dtype=int))["accuracy"] == 0.0
    assert evaluate(net, X, np.array([0, 1, 0, 1]))["accuracy"] == 0.5


# ---------------------------------------------------------------- fused SGD (SGD(fused=True): train's fast path)


def _trained(dtype, fused, activation="relu"):
    X, y = blobs(3, n=150, d=20)
    net = mlp([20, 16, 16, 16, 2], activation, rng=np.random.default_rng(0), dtype=dtype, products="scipy_blas")
    train(net, X, y, optimizer=SGD(net, lr=0.3, fused=fused), epochs=4, batch_size=32,   # last batch: 22 rows
          rng=np.random.default_rng(1), eval_train=False)
    return net


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_fused_sgd_gives_the_weights_of_sgd_float64(activation):
    plain, fused = _trained(np.float64, False, activation), _trained(np.float64, True, activation)
    for p, q in zip(plain.parameters(), fused.parameters()):
        assert not np.array_equal(p.value, _trained_start(p.name))        # training moved every parameter
        np.testing.assert_allclose(q.value, p.value, rtol=0, atol=1e-12)


def _trained_start(name):
    return mlp([20, 16, 16, 16, 2], rng=np.random.default_rng(0)).get_weights()[name]


def test_fused_sgd_float32_stays_float32_and_close():
    plain, fused = _trained(np.float32, False), _trained(np.float32, True)
    for p, q in zip(plain.parameters(), fused.parameters()):
        assert q.value.dtype == np.float32
        np.testing.assert_allclose(q.value, p.value, rtol=0, atol=1e-5)


def test_fused_sgd_leaves_gradients_unset_and_step_still_uses_them():
    net = _trained(np.float64, True)
    assert all(not np.any(p.grad) for p in net.parameters())     # documented: training sets no dW, db
    opt = SGD(net, lr=0.1, fused=True)
    net.backward(np.ones((len(net.dense[0]._X), 2)))
    before = net.get_weights()
    opt.step()                                                   # hand-written loops: step() updates from dW
    assert all(not np.array_equal(before[p.name], p.value) for p in net.parameters())


def test_fused_sgd_errors():
    net = mlp([3, 4, 2], rng=np.random.default_rng(0), products="scipy_blas")
    with pytest.raises(ValueError, match="momentum"):
        SGD(net, lr=0.1, momentum=0.9, fused=True)
    for mode in ("blas", "exact"):
        with pytest.raises(ValueError, match="products='scipy_blas'"):
            SGD(mlp([3, 4, 2], rng=np.random.default_rng(0), products=mode), lr=0.1, fused=True)
    with pytest.raises(ValueError, match="products='scipy_blas'"):
        SGD(net.parameters(), lr=0.1, fused=True)
    other = mlp([3, 4, 2], rng=np.random.default_rng(1), products="scipy_blas")
    X, y = blobs(0, n=10, d=3)
    with pytest.raises(ValueError, match="another network"):
        train(net, X, y, optimizer=SGD(other, lr=0.1, fused=True), epochs=1, batch_size=5,
              rng=np.random.default_rng(0))
