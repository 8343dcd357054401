"""Training: optimizers against hand-computed updates, gradient bookkeeping, determinism, dtypes, train/evaluate."""
import math
import warnings

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


def test_network_backward_returns_input_gradient_unless_told_not_to():
    rng = np.random.default_rng(2)
    net = mlp([4, 6, 3], "tanh", "xavier_normal", rng=rng)
    X = rng.normal(size=(5, 4))
    out = net.forward(X)
    assert net.backward(np.ones_like(out), need_dX=False) is None
    dX = net.backward(np.ones_like(out))          # need_dX=True by default, as for Dense
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


# ---------------------------------------------------------------- one loop: against the two it replaced


def _old_minibatch_loop(net, X, y, optimizer, epochs, batch_size, rng):
    """The minibatch loop ``train`` ran before it also did regression (kept here only as the reference)."""
    loss_fn, n = SoftmaxCrossEntropy(), len(X)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss_fn.forward(net.forward(X[idx]), y[idx])
            net.backward(loss_fn.backward(), need_dX=False)
            optimizer.step()


def _old_full_batch_loop(net, X, Y, optimizer, epochs):
    """npnet.regression.train_full_batch as it was (the reference): the loss before each step, one step an epoch."""
    loss_fn, history = npnet.MSE(), []
    for _ in range(epochs):
        history.append(loss_fn.forward(net.forward(X), Y))
        net.backward(loss_fn.backward(), need_dX=False)
        optimizer.step()
    return history


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_train_gives_the_old_minibatch_loops_weights(opt):
    X, y = blobs(3, n=150, d=20)
    nets = [mlp([20, 16, 16, 2], "relu", rng=np.random.default_rng(0)) for _ in range(2)]
    make = (lambda net: SGD(net, lr=0.3)) if opt == "sgd" else (lambda net: Adam(net, lr=0.01))
    train(nets[0], X, y, optimizer=make(nets[0]), epochs=3, batch_size=32, rng=np.random.default_rng(1),
          eval_train=False)                                                        # last batch: 22 rows
    _old_minibatch_loop(nets[1], X, y, make(nets[1]), 3, 32, np.random.default_rng(1))
    start = mlp([20, 16, 16, 2], "relu", rng=np.random.default_rng(0)).get_weights()
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert not np.array_equal(p.value, start[p.name])                          # training moved it
        np.testing.assert_array_equal(p.value, q.value)


def test_train_full_batch_mse_gives_the_old_regression_loops_weights_and_losses():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = np.tanh(X @ [0.5, -1.0, 2.0])
    nets = [mlp([3, 10, 1], "tanh", "xavier_uniform", rng=np.random.default_rng(4)) for _ in range(2)]
    history = train(nets[0], X, Y, optimizer=SGD(nets[0], lr=0.05), epochs=25, batch_size=None, loss="mse")
    reference = _old_full_batch_loop(nets[1], X, Y[:, None], SGD(nets[1], lr=0.05), 25)
    assert history["train_loss"] == reference                     # the loss before each epoch's step, bitwise
    assert history["train_acc"] == history["test_acc"] == [None] * 25   # no accuracy for real targets
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert reference[-1] < reference[0] / 2


def test_batch_size_at_least_n_is_full_batch_and_needs_no_rng():
    X, y = blobs(0, n=40)
    a, b = (mlp([2, 4, 2], rng=np.random.default_rng(0)) for _ in range(2))
    train(a, X, y, optimizer=SGD(a, lr=0.1), epochs=3, batch_size=None)
    train(b, X, y, optimizer=SGD(b, lr=0.1), epochs=3, batch_size=1000, rng=np.random.default_rng(5))
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters()))


def test_max_steps_stops_mid_epoch_and_epochs_may_follow_from_it():
    X, y = blobs(0, n=100)
    steps = []
    a, b = (mlp([2, 4, 2], rng=np.random.default_rng(0)) for _ in range(2))
    history = train(a, X, y, optimizer=SGD(a, lr=0.1), epochs=5, batch_size=30, rng=np.random.default_rng(1),
                    max_steps=6, on_step=lambda e, s, net, v: steps.append((e, s, v)))
    assert [(e, s) for e, s, _ in steps] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2)]
    assert history["epoch"] == [1, 2]
    assert history["train_loss"][1] == pytest.approx((steps[4][2] + steps[5][2]) / 2, rel=1e-15)  # partial epoch
    twin = train(b, X, y, optimizer=SGD(b, lr=0.1), batch_size=30, rng=np.random.default_rng(1), max_steps=6)
    assert twin == history
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters()))


def test_divergence_error_carries_epoch_step_and_the_last_finite_loss():
    X, y = blobs(0, n=64)
    net = mlp([2, 16, 2], "relu", ("normal", 3.0), rng=np.random.default_rng(0))
    seen = []
    with pytest.raises(npnet.DivergenceError) as info:
        train(net, X * 1e3, y, optimizer=SGD(net, lr=10.0), epochs=50, batch_size=16, rng=np.random.default_rng(0),
              on_step=lambda e, s, net, v: seen.append((e, s, v)))
    exc = info.value
    assert isinstance(exc, FloatingPointError)
    last_epoch, last_step, last_value = seen[-1]
    assert (exc.epoch, exc.step) == ((last_epoch, last_step + 1) if last_step < 4 else (last_epoch + 1, 1))
    assert exc.last_finite_loss == last_value and not math.isfinite(exc.loss) and exc.steps_per_epoch == 4
    assert str(exc) == (f"loss became {exc.loss} at epoch {exc.epoch}, step {exc.step} of 4; the weights diverged "
                        "(try a smaller learning rate or a smaller-scale initialization)")
    import pickle
    again = pickle.loads(pickle.dumps(exc))
    assert (again.epoch, again.step, again.last_finite_loss, str(again)) == (exc.epoch, exc.step,
                                                                             exc.last_finite_loss, str(exc))


def test_a_diverging_run_warns_nothing_before_its_error():
    # the first step's update overflows (lr·dW = 1e10 · ~1e300): NumPy would warn "overflow encountered in multiply"
    X, y = blobs(0, n=64)
    net = mlp([2, 2], weight_init="zeros")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # any warning would fail the test
        with pytest.raises(npnet.DivergenceError) as info:
            train(net, X * 1e300, y, optimizer=SGD(net, lr=1e10), epochs=1, batch_size=16, rng=0)
    assert (info.value.epoch, info.value.step) == (1, 2) and math.isfinite(info.value.last_finite_loss)


def test_divergence_at_the_very_first_step_has_no_last_finite_loss():
    net = mlp([2, 3, 2], "identity", ("constant", 1e200), rng=0)
    X, y = blobs(0, n=8)
    with pytest.raises(npnet.DivergenceError) as info:
        train(net, X * 1e200, y, optimizer="sgd", lr=0.1, epochs=1, batch_size=None)
    assert (info.value.epoch, info.value.step, info.value.last_finite_loss) == (1, 1, None)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(optimizer="sgd"), TypeError, r"^optimizer='sgd' needs lr=, e\.g\. train\(\.\.\., optimizer='sgd', lr=0\.1\)$"),
    (dict(on_step=3), TypeError, "^on_step must be a function or None, got int$"),
    (dict(on_epoch="x"), TypeError, "^on_epoch must be a function or None, got str$"),
    (dict(max_steps=0), ValueError, "^max_steps must be an integer >= 1, got 0$"),
    (dict(epochs=None), TypeError, r"^train needs epochs= \(or max_steps=\)$"),
    (dict(batch_size=0), ValueError, "^batch_size must be an integer >= 1, got 0$"),
    (dict(rng=None), TypeError, "^rng must be a numpy.random.Generator"),
    (dict(loss="mse", y=np.zeros((10, 2))), ValueError, r"^y must have shape \(10, 1\), got \(10, 2\)$"),
    (dict(loss="mse", y=np.full(10, np.nan)), ValueError, "^y contains 10 NaN/inf value"),
    (dict(loss="mse", y=np.array(["a"] * 10)), TypeError, "^y must be real numbers, got dtype <U1$"),
    (dict(y=np.zeros(10)), TypeError, r"^y must be integer class labels in \[0, 2\)"),
])
def test_train_argument_errors_are_one_line(kwargs, error, message):
    X, _ = blobs(0, n=10)
    net = mlp([2, 3, 1 if kwargs.get("loss") == "mse" else 2], rng=0)
    args = dict(optimizer=SGD(net, lr=0.1), epochs=1, batch_size=4, rng=0, y=np.zeros(10, dtype=int))
    args.update(kwargs)
    before = net.get_weights()
    with pytest.raises(error, match=message) as info:
        train(net, X, args.pop("y"), **args)
    assert "\n" not in str(info.value)
    assert all(np.array_equal(v, net.get_weights()[k]) for k, v in before.items())   # refused before any step


@pytest.mark.parametrize("net", [None, [1, 2], "mlp"])
def test_a_net_that_is_not_a_network_is_a_type_error(net):
    X, y = blobs(0, n=10)
    with pytest.raises(TypeError, match="^net must be a Network"):
        train(net, X, y, optimizer="sgd", lr=0.1, epochs=1, batch_size=4, rng=0)
    with pytest.raises(TypeError, match="^net must be a Network"):
        evaluate(net, X, y)
