"""Training and evaluation: one loop for classification and regression.

``train`` runs forward → loss → backward → optimizer step per batch and returns a per-epoch history:
minibatches shuffled with the Generator it is given, or full-batch gradient descent (``batch_size=None``) on the data
in its order. Data are validated once up front (shape, dtype, finiteness, label range), not per step.
"""
import math

import numpy as np

from . import _validate, losses, optim
from .network import require_network


class DivergenceError(FloatingPointError):
    """The training loss became NaN or infinite: the weights diverged.

    Attributes: ``epoch`` and ``step`` (both counting from 1; ``step`` within the epoch) of the step whose loss was
    not finite, ``steps_per_epoch``, ``loss`` (that value) and ``last_finite_loss`` (the step before's, None if it
    was the first step).
    """

    def __init__(self, epoch, step, steps_per_epoch, loss, last_finite_loss):
        super().__init__(f"loss became {loss} at epoch {epoch}, step {step} of {steps_per_epoch}; the weights "
                         "diverged (try a smaller learning rate or a smaller-scale initialization)")
        self.epoch, self.step, self.steps_per_epoch = epoch, step, steps_per_epoch
        self.loss, self.last_finite_loss = loss, last_finite_loss

    def __reduce__(self):   # picklable with its attributes (a worker process may raise it)
        return type(self), (self.epoch, self.step, self.steps_per_epoch, self.loss, self.last_finite_loss)


def _dataset(x_name, y_name, net, X, y, loss_fn):
    """(X, targets): integer labels (B,) for any loss, or real targets (B, out) for the MSE loss."""
    X = _validate.finite(x_name, _validate.batch(x_name, X, net.in_features, net.dtype))
    y_array = np.asarray(y)
    if isinstance(loss_fn, losses.MSE) and not (y_array.ndim == 1 and y_array.dtype.kind in "iu"):
        return X, _real_targets(y_name, y_array, X.shape[0], net.out_features, net.dtype)
    return X, _validate.labels(y_name, y_array, X.shape[0], net.out_features)


def _real_targets(name, Y, n_samples, n_outputs, dtype):
    """Real-valued targets as (n_samples, n_outputs) of ``dtype``; a 1-D (n,) vector is taken as one output."""
    if Y.ndim == 1 and n_outputs == 1:
        Y = Y[:, None]
    if Y.shape != (n_samples, n_outputs):
        raise ValueError(f"{name} must have shape ({n_samples}, {n_outputs}), got {Y.shape}")
    if Y.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {Y.dtype}")
    return _validate.finite(name, Y.astype(dtype, copy=False))


def evaluate(net, X, y, *, loss=None, batch_size=2000):
    """Accuracy (and mean loss if ``loss`` is given) of ``net`` on (X, y), in batches of ``batch_size``.

    Returns ``{"accuracy": float, "loss": float or None}``; accuracy is None for real-valued targets (``loss="mse"``).
    Overwrites the network's cached forward values.
    """
    loss_fn = None if loss is None else losses.get(loss)
    X, y = _dataset("X", "y", require_network(net), X, y, loss_fn)
    return _evaluate(net, X, y, loss_fn, _validate.positive_int("batch_size", batch_size))


def _evaluate(net, X, y, loss_fn=None, batch_size=2000):
    """``evaluate`` on data already validated (``train`` checks its data once, not every epoch)."""
    labels = y.ndim == 1
    correct, total_loss = 0, 0.0
    for start in range(0, X.shape[0], batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        out = net._forward(xb)
        if labels:
            correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
        if loss_fn is not None:
            total_loss += loss_fn.forward(out, yb) * xb.shape[0]
    n = X.shape[0]
    return {"accuracy": correct / n if labels else None, "loss": None if loss_fn is None else total_loss / n}


def train(net, X, y, *, optimizer, epochs=None, batch_size, rng=None, lr=None, loss="softmax_cross_entropy",
          max_steps=None, X_test=None, y_test=None, eval_train=True, on_epoch=None, on_step=None):
    """Train ``net`` in place by minibatch or full-batch gradient descent.

    Parameters
    ----------
    net : Network
    X : (N, in) inputs
    y : (N,) integer labels, or with ``loss="mse"`` real targets (N, out) ((N,) for one output)
    optimizer : "sgd" or "adam" (built over ``net`` with ``lr``), or an optimizer object over ``net``'s own
        parameters (``npnet.SGD(net, lr=0.1)``, ``npnet.Adam(net)``; a subset of them freezes the others); one built
        over another network is a ValueError
    epochs : int >= 1; may be None when ``max_steps`` is given (then as many epochs as those steps need)
    batch_size : int >= 1 (the last batch of an epoch may be smaller), or None for full-batch gradient descent: one
        step per epoch on all of X in its order, nothing shuffled (as is any batch_size >= N)
    rng : np.random.Generator used for the per-epoch shuffle, or an int seed (``np.random.default_rng(seed)``);
        not needed full-batch
    lr : learning rate, only with an optimizer name (required for "sgd"; Adam's default is 1e-3)
    loss : loss name or object (default softmax cross-entropy; "mse" for regression)
    max_steps : stop after this many optimizer steps in all (the last epoch may then be partial)
    X_test, y_test : optional held-out set, evaluated after every epoch
    eval_train : also measure accuracy on the whole training set after every epoch (labels only)
    on_epoch : ``callback(epoch, net, history)`` after each epoch (epochs count from 1)
    on_step : ``callback(epoch, step, net, loss_value)`` after each optimizer step (steps count from 1 per epoch)

    Returns
    -------
    history : dict of lists, one entry per epoch: "epoch", "train_loss" (mean minibatch loss during the
        epoch, each measured before its step: full-batch, the loss before the epoch's step), "train_acc" (None
        entries without ``eval_train`` or labels), "test_acc" (None for real targets) and "test_loss" (mean loss on
        the test set; None entries without a test set).

    Raises
    ------
    DivergenceError (a FloatingPointError)
        when a batch's loss is NaN or infinite; it carries ``epoch``, ``step`` and ``last_finite_loss``.
    """
    require_network(net)
    loss_fn = losses.get(loss)
    X, y = _dataset("X", "y", net, X, y, loss_fn)
    if (X_test is None) != (y_test is None):
        raise ValueError("pass both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = _dataset("X_test", "y_test", net, X_test, y_test, loss_fn)
    n = X.shape[0]
    full_batch = batch_size is None or _validate.positive_int("batch_size", batch_size) >= n
    batch_size = n if full_batch else batch_size
    steps_per_epoch = math.ceil(n / batch_size)
    max_steps = None if max_steps is None else _validate.positive_int("max_steps", max_steps)
    if epochs is None and max_steps is None:
        raise TypeError("train needs epochs= (or max_steps=)")
    epochs = math.ceil(max_steps / steps_per_epoch) if epochs is None else _validate.positive_int("epochs", epochs)
    if not full_batch:
        rng = _validate.generator("rng", rng)
    for name, callback in (("on_epoch", on_epoch), ("on_step", on_step)):
        if callback is not None and not callable(callback):
            raise TypeError(f"{name} must be a function or None, got {type(callback).__name__}")
    optimizer = _optimizer(net, optimizer, lr)

    history = {"epoch": [], "train_loss": [], "train_acc": [], "test_acc": [], "test_loss": []}
    x_batch = np.empty((batch_size, X.shape[1]), dtype=X.dtype)   # reused by every minibatch
    steps, last = 0, None
    for epoch in range(1, epochs + 1):
        order = None if full_batch else rng.permutation(n)
        total, step = 0.0, 0
        while step < steps_per_epoch and steps != max_steps:
            step += 1
            steps += 1
            if full_batch:
                xb, yb = X, y
            else:
                idx = order[(step - 1) * batch_size: step * batch_size]
                # idx comes from a permutation, so it is always in range; mode="clip" spares the copy of `out`
                # that NumPy makes with the default mode="raise" (~35% of the gather's time)
                xb, yb = np.take(X, idx, axis=0, out=x_batch[:len(idx)], mode="clip"), y[idx]
            # a diverging run overflows before its loss turns inf/NaN: one clear error below, no page of warnings
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                value = loss_fn.forward(net._forward(xb), yb)
                if not math.isfinite(value):
                    raise DivergenceError(epoch, step, steps_per_epoch, value, last)
                net._backward(loss_fn.backward(), need_dX=False)
                optimizer.step()
            total += value
            last = value
            if on_step is not None:
                on_step(epoch, step, net, value)
        history["epoch"].append(epoch)
        history["train_loss"].append(total / step)
        history["train_acc"].append(_evaluate(net, X, y)["accuracy"] if eval_train else None)
        test = {"accuracy": None, "loss": None} if X_test is None else _evaluate(net, X_test, y_test, loss_fn)
        history["test_acc"].append(test["accuracy"])
        history["test_loss"].append(test["loss"])
        if on_epoch is not None:
            on_epoch(epoch, net, history)
        if steps == max_steps:
            break
    return history


def _optimizer(net, optimizer, lr):
    """The optimizer ``train`` steps: built from a name, or checked to update ``net``'s own parameter arrays."""
    if isinstance(optimizer, str):
        if optimizer == "sgd" and lr is None:
            raise TypeError("optimizer='sgd' needs lr=, e.g. train(..., optimizer='sgd', lr=0.1)")
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
