"""Minibatch training and evaluation.

``train`` shuffles with the Generator it is given, runs forward → loss → backward → optimizer step per batch, and
returns a per-epoch history. Data are validated once up front (shape, dtype, finiteness, label range), not per step.
"""
import math

import numpy as np

from . import _validate, losses, optim


def _dataset(x_name, y_name, net, X, y):
    X = _validate.finite(x_name, _validate.batch(x_name, X, net.in_features, net.dtype))
    y = _validate.labels(y_name, y, X.shape[0], net.out_features)
    return X, y


def evaluate(net, X, y, *, loss=None, batch_size=2000):
    """Accuracy (and mean loss if ``loss`` is given) of ``net`` on (X, y), in batches of ``batch_size``.

    Returns ``{"accuracy": float, "loss": float or None}``. Overwrites the network's cached forward values.
    """
    X, y = _dataset("X", "y", net, X, y)
    return _evaluate(net, X, y, loss, _validate.positive_int("batch_size", batch_size))


def _evaluate(net, X, y, loss=None, batch_size=2000):
    """``evaluate`` on data already validated (``train`` checks its data once, not every epoch)."""
    loss_fn = None if loss is None else losses.get(loss)
    correct, total_loss = 0, 0.0
    for start in range(0, X.shape[0], batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        out = net._forward(xb)
        correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
        if loss_fn is not None:
            total_loss += loss_fn.forward(out, yb) * xb.shape[0]
    n = X.shape[0]
    return {"accuracy": correct / n, "loss": None if loss_fn is None else total_loss / n}


def train(net, X, y, *, optimizer, epochs, batch_size, rng, lr=None, loss="softmax_cross_entropy", X_test=None,
          y_test=None, eval_train=True, on_epoch=None, on_step=None):
    """Train ``net`` in place with minibatch gradient descent.

    Parameters
    ----------
    net : Network
    X : (N, in) inputs;  y : (N,) integer labels
    optimizer : "sgd" or "adam" (built over ``net`` with ``lr``), or an optimizer object over ``net``'s own
        parameters (``npnet.SGD(net, lr=0.1)``, ``npnet.Adam(net)``; a subset of them freezes the others); one built
        over another network is a ValueError
    epochs, batch_size : int >= 1 (the last batch of an epoch may be smaller)
    rng : np.random.Generator used for the per-epoch shuffle, or an int seed (``np.random.default_rng(seed)``)
    lr : learning rate, only with an optimizer name (required for "sgd"; Adam's default is 1e-3)
    loss : loss name or object (default softmax cross-entropy)
    X_test, y_test : optional held-out set, evaluated after every epoch
    eval_train : also measure accuracy on the whole training set after every epoch
    on_epoch : ``callback(epoch, net, history)`` after each epoch (epochs count from 1)
    on_step : ``callback(epoch, step, net, loss_value)`` after each optimizer step (steps count from 1 per epoch)

    Returns
    -------
    history : dict of lists, one entry per epoch: "epoch", "train_loss" (mean minibatch loss during the
        epoch), "train_acc" (None entries if not ``eval_train``), "test_acc" and "test_loss" (mean loss on the
        test set; None entries without a test set).

    Raises
    ------
    FloatingPointError
        when a minibatch loss is NaN or infinite, naming the epoch and step.
    """
    X, y = _dataset("X", "y", net, X, y)
    if (X_test is None) != (y_test is None):
        raise ValueError("pass both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = _dataset("X_test", "y_test", net, X_test, y_test)
    epochs = _validate.positive_int("epochs", epochs)
    batch_size = _validate.positive_int("batch_size", batch_size)
    rng = _validate.generator("rng", rng)
    optimizer = _optimizer(net, optimizer, lr)
    loss_fn = losses.get(loss)
    # plain SGD's fast path (``SGD(fused=True)``): the update happens inside backward's weight GEMM
    sgd_lr = optimizer.lr if getattr(optimizer, "fused", False) else None   # _optimizer checked it is net's own
    n = X.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    history = {"epoch": [], "train_loss": [], "train_acc": [], "test_acc": [], "test_loss": []}
    x_batch = np.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)   # reused by every step
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for step in range(1, steps_per_epoch + 1):
            idx = order[(step - 1) * batch_size: step * batch_size]
            # idx comes from a permutation, so it is always in range; mode="clip" spares the copy of `out`
            # that NumPy makes with the default mode="raise" (~35% of the gather's time)
            xb = np.take(X, idx, axis=0, out=x_batch[:len(idx)], mode="clip")
            # a diverging run overflows before its loss turns inf/NaN: report that once, clearly, below,
            # instead of a page of RuntimeWarnings
            with np.errstate(over="ignore", invalid="ignore"):
                value = loss_fn.forward(net._forward(xb), y[idx])
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"loss became {value} at epoch {epoch}, step {step} of {steps_per_epoch}; "
                    "the weights diverged (try a smaller learning rate or a smaller-scale initialization)")
            net.backward(loss_fn.backward(), sgd_lr=sgd_lr)
            if sgd_lr is None:
                optimizer.step()
            total += value
            if on_step is not None:
                on_step(epoch, step, net, value)
        history["epoch"].append(epoch)
        history["train_loss"].append(total / steps_per_epoch)
        history["train_acc"].append(_evaluate(net, X, y)["accuracy"] if eval_train else None)
        test = {"accuracy": None, "loss": None} if X_test is None else _evaluate(net, X_test, y_test, loss_fn)
        history["test_acc"].append(test["accuracy"])
        history["test_loss"].append(test["loss"])
        if on_epoch is not None:
            on_epoch(epoch, net, history)
    return history


def _optimizer(net, optimizer, lr):
    """The optimizer ``train`` steps: built from a name, or checked to update ``net``'s own parameter arrays."""
    if isinstance(optimizer, str):
        return optim.get(optimizer, net, **({} if lr is None else {"lr": lr}))
    if lr is not None:
        raise ValueError("lr goes with an optimizer name (optimizer='sgd', lr=0.1); "
                         "an optimizer object already has its lr")
    params = getattr(optimizer, "params", None)
    if not callable(getattr(optimizer, "step", None)) or params is None:
        raise TypeError(f"optimizer must be 'sgd', 'adam' or an optimizer over the network "
                        f"(npnet.SGD(net, lr=0.1)); got {type(optimizer).__name__}")
    mine = {id(p.value) for p in net.parameters()}
    foreign = [p[0] for p in params if id(p[1]) not in mine]   # a subset of the net's is fine: the rest stay frozen
    if foreign:
        raise ValueError(f"optimizer updates parameters that are not this network's ({', '.join(foreign)}): it was "
                         "built over another network or a copy; build it with npnet.SGD(net, ...) for the net you train")
    return optimizer
