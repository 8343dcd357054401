"""Regression: full-batch gradient descent on real-valued targets.

``npnet.train`` is built for classification (integer labels, accuracy). A regression network is an ordinary
``mlp`` whose last Dense layer has no activation after it — an identity output, ŷ = Z — trained with ``MSE`` on
targets Y (N, out). ``train_full_batch`` is the loop that the published regression studies run in PyTorch:

    for epoch in range(epochs):
        loss = criterion(model(X), Y)      # recorded: the loss *before* this epoch's step
        loss.backward(); optimizer.step()

so its history matches theirs entry for entry (the last entry is the loss before the last step).
"""
import math

import numpy as np

from . import _validate, losses


def targets(name, Y, n_samples, n_outputs, dtype):
    """Real-valued targets as (n_samples, n_outputs) of ``dtype``; a 1-D (n,) vector is taken as one output."""
    Y = np.asarray(Y)
    if Y.ndim == 1 and n_outputs == 1:
        Y = Y[:, None]
    if Y.shape != (n_samples, n_outputs):
        raise ValueError(f"{name} must have shape ({n_samples}, {n_outputs}), got {Y.shape}")
    if Y.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got dtype {Y.dtype}")
    return _validate.finite(name, Y.astype(dtype, copy=False))


def train_full_batch(net, X, Y, *, optimizer, epochs, loss="mse", on_epoch=None):
    """Train ``net`` in place by full-batch gradient descent; return the per-epoch loss list.

    Parameters
    ----------
    net : Network whose output is the prediction ŷ (B, out) (no activation after the last Dense)
    X : (N, in) inputs;  Y : (N, out) real targets (or (N,) for one output)
    optimizer : an optimizer over ``net`` (``npnet.SGD`` …)
    epochs : int >= 1, one step each
    loss : loss name or object, default "mse" (mean over all entries, as ``torch.nn.MSELoss``)
    on_epoch : optional ``callback(epoch, net, loss_value)`` after each step (epochs count from 1)

    Returns
    -------
    list of float: entry k is the loss of the forward pass of epoch k + 1, before its step.

    Raises
    ------
    FloatingPointError when the loss becomes NaN or infinite, naming the epoch.
    """
    X = _validate.finite("X", _validate.batch("X", X, net.in_features, net.dtype))
    Y = targets("Y", Y, X.shape[0], net.out_features, net.dtype)
    epochs = _validate.positive_int("epochs", epochs)
    loss_fn = losses.get(loss)
    history = []
    for epoch in range(1, epochs + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            value = loss_fn.forward(net._forward(X), Y)
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at epoch {epoch}; the weights diverged "
                                     "(try a smaller learning rate or a smaller-scale initialization)")
        net.backward(loss_fn.backward())      # δ = 2(ŷ − y)/N: the identity output passes it straight to Dense
        optimizer.step()
        history.append(value)
        if on_epoch is not None:
            on_epoch(epoch, net, value)
    return history
