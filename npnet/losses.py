"""Losses: softmax cross-entropy on integer labels, and mean squared error.

A loss's ``forward(output, target)`` returns a Python float and caches what ``backward()`` needs;
``backward()`` returns ∂L/∂output with the output's shape. Both losses average over the batch, so the
gradient carries the 1/B.
"""
import numpy as np

from . import _validate
from ._scratch import buffer


class SoftmaxCrossEntropy:
    """L = (1/B) Σ_b −log softmax(z_b)[y_b]  for logits Z (B, C) and integer labels y (B,) in [0, C).

    Stable: log softmax(z)_c = (z_c − m) − log Σ_k e^{z_k − m} with m = max_k z_k, so no exp overflows.
    Like the layers, it computes into arrays it keeps and reuses, so ``backward()``'s result is overwritten by the
    next call: copy it to keep it.
    """

    name = "softmax_cross_entropy"

    def __init__(self):
        self._probs = self._y = None
        self._buffers = {}

    def forward(self, Z, y):
        """Z (B, C) logits, y (B,) int labels → mean cross-entropy (float)."""
        Z = _outputs("logits", Z)
        B, C = Z.shape
        y = _validate.labels("y", y, B, C)
        dtype = Z.dtype
        shifted = buffer(self._buffers, "shifted", Z.shape, dtype)
        np.subtract(Z, Z.max(axis=1, keepdims=True), out=shifted)      # z − m, m = max_k z_k
        exp = np.exp(shifted, out=buffer(self._buffers, "probs", Z.shape, dtype))   # turned into softmax below
        sum_exp = exp.sum(axis=1, keepdims=True)
        log_probs_y = shifted[np.arange(B), y] - np.log(sum_exp[:, 0])
        self._probs = np.divide(exp, sum_exp, out=exp)   # softmax(Z), kept for backward
        self._y = y
        return float(-log_probs_y.mean())

    def backward(self):
        """δ = ∂L/∂Z = (softmax(Z) − onehot(y)) / B   (B, C).

        With p = softmax(z) and L_b = −log p_y:  ∂L_b/∂z_c = p_c − [c = y].
        """
        if self._probs is None:
            raise RuntimeError("backward called before forward")
        B = self._probs.shape[0]
        delta = buffer(self._buffers, "delta", self._probs.shape, self._probs.dtype)
        np.copyto(delta, self._probs)
        delta[np.arange(B), self._y] -= 1
        delta /= B
        return delta


class MSE:
    """L = (1/(B·C)) Σ_b Σ_c (ŷ_bc − t_bc)²: the mean over all entries, as ``torch.nn.MSELoss``.

    The target is either an array shaped like the output, or integer labels (B,) that are one-hot encoded.
    """

    name = "mse"

    def __init__(self):
        self._diff = None

    def forward(self, Yhat, target):
        """Yhat (B, C), target (B, C) or int labels (B,) → mean squared error (float)."""
        Yhat = _outputs("predictions", Yhat)
        target = np.asarray(target)
        if target.ndim == 1 and np.issubdtype(target.dtype, np.integer):
            y = _validate.labels("target", target, *Yhat.shape)
            target = np.zeros_like(Yhat)
            target[np.arange(Yhat.shape[0]), y] = 1
        elif target.dtype.kind not in "biuf":
            raise TypeError(f"target must hold real numbers, got dtype {target.dtype}")
        elif target.shape != Yhat.shape:
            raise ValueError(f"target must have shape {Yhat.shape} (or be int labels of shape ({Yhat.shape[0]},)),"
                             f" got {target.shape}")
        self._diff = Yhat - target.astype(Yhat.dtype, copy=False)
        return float(np.mean(self._diff * self._diff))

    def backward(self):
        """∂L/∂Ŷ = 2 (Ŷ − T) / (B·C)   (B, C)."""
        if self._diff is None:
            raise RuntimeError("backward called before forward")
        return self._diff * (2.0 / self._diff.size)


def _outputs(name, Z):
    """A network's output (B, C), B, C >= 1, of real numbers (ints and bools are computed in float64)."""
    if type(Z) is not np.ndarray or Z.dtype.kind != "f":    # the training loop passes float arrays: one cheap test
        Z = np.asarray(Z)
        if Z.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {Z.dtype}")
        Z = Z.astype(np.float64, copy=False)
    if Z.ndim != 2 or 0 in Z.shape:
        raise ValueError(f"{name} must have shape (B, C) with B, C >= 1, got {Z.shape}")
    return Z


LOSSES = {"softmax_cross_entropy": SoftmaxCrossEntropy, "cross_entropy": SoftmaxCrossEntropy, "mse": MSE}


def get(spec):
    """A loss instance from a name ("softmax_cross_entropy", "cross_entropy", "mse") or an instance."""
    if isinstance(spec, str):
        return LOSSES[_validate.choice("loss", spec, LOSSES)]()
    if hasattr(spec, "forward") and hasattr(spec, "backward"):
        return spec
    raise TypeError(f"loss must be a name ({', '.join(LOSSES)}) or a loss object, got {spec!r}")
