"""Backprop in plain functions: start reading here. npnet's layers compute exactly this, only faster.

CS231n style: ``*_forward(inputs) → (out, cache)``; ``*_backward(dout, cache)`` sits right below it and returns
the gradient of every input. No buffers, no validation, nothing in place: each line is the formula beside it.
Shapes: batch B, inputs D, units H; ``W (H, D)`` (row i = unit i's incoming weights), ``b (H,)``, labels ``y (B,)``.
The tests check ``npnet.layers`` and ``npnet.losses`` against these functions; ``npnet.gradcheck``'s complex step runs
them on complex numbers, which is why every forward here is analytic (no |z|, no branches on z's value).
"""
import numpy as np


def dense_forward(X, W, b):
    """Z = X Wᵀ + b:  X (B, D), W (H, D), b (H,) → Z (B, H)."""
    return X @ W.T + b, (X, W)                  # z_bi = Σ_j x_bj W_ij + b_i


def dense_backward(dZ, cache):
    """dZ = ∂L/∂Z (B, H) → dX (B, D), dW (H, D), db (H,)."""
    X, W = cache
    dX = dZ @ W                                 # ∂L/∂x_bj = Σ_i δ_bi W_ij
    dW = dZ.T @ X                               # ∂L/∂W_ij = Σ_b δ_bi x_bj
    db = dZ.sum(axis=0)                         # ∂L/∂b_i  = Σ_b δ_bi
    return dX, dW, db


def relu_forward(Z):
    """A = max(Z, 0)."""
    return np.maximum(Z, 0), Z


def relu_backward(dA, Z, at_zero=0.0):
    """dZ = dA ⊙ relu'(Z): 1 where z > 0, 0 where z < 0, ``at_zero`` (a convention) where z = 0."""
    return dA * np.where(Z > 0, 1.0, np.where(Z == 0, at_zero, 0.0))


def sigmoid_forward(Z):
    """A = σ(Z) = 1 / (1 + e^{−Z}), written (1 + tanh(Z/2)) / 2: equal, overflow-free, and analytic.

    Accurate to ~1e-16 absolute; for z ≪ 0 (σ < 1e-8) it keeps fewer significant digits than npnet.activations."""
    A = 0.5 * (1.0 + np.tanh(0.5 * Z))
    return A, A


def sigmoid_backward(dA, A):
    """dZ = dA ⊙ σ'(Z), with σ' = σ(1 − σ) = A(1 − A)."""
    return dA * A * (1.0 - A)


def tanh_forward(Z):
    """A = tanh(Z)."""
    A = np.tanh(Z)
    return A, A


def tanh_backward(dA, A):
    """dZ = dA ⊙ tanh'(Z), with tanh' = 1 − tanh² = 1 − A²."""
    return dA * (1.0 - A * A)


def identity_forward(Z):
    """A = Z (the output layer: logits go straight into the loss)."""
    return Z, None


def identity_backward(dA, cache):
    """dZ = dA."""
    return dA


def softmax_ce_forward(Z, y):
    """L = (1/B) Σ_b −log softmax(z_b)[y_b]:  logits Z (B, C), int labels y (B,) → scalar L."""
    B = Z.shape[0]
    shifted = Z - Z.real.max(axis=1, keepdims=True)         # z − max z: same softmax, no overflow in exp
    log_sum = np.log(np.exp(shifted).sum(axis=1))           # log Σ_k e^{z_k − m}
    L = np.mean(log_sum - shifted[np.arange(B), y])         # −log p_y = log Σ_k e^{z_k} − z_y
    return L, (np.exp(shifted - log_sum[:, None]), y)       # cache p = softmax(Z)


def softmax_ce_backward(cache):
    """dZ = ∂L/∂Z = (p − onehot(y)) / B   (B, C)."""
    p, y = cache
    dZ = p.copy()
    dZ[np.arange(len(y)), y] -= 1                           # ∂(−log p_y)/∂z_c = p_c − [c = y]
    return dZ / len(y)


def mse_forward(Yhat, T):
    """L = mean over all B·C entries of (ŷ − t)²:  Yhat, T (B, C) → scalar L."""
    diff = Yhat - T
    return np.mean(diff * diff), diff                      # (ŷ − t)², not |ŷ − t|²: stays analytic


def mse_backward(diff):
    """dYhat = 2 (Ŷ − T) / (B·C)."""
    return 2.0 * diff / diff.size


def softsign_forward(Z):
    """A = Z / (1 + |Z|)   (not analytic at 0: the complex step does not apply to it)."""
    A = Z / (1.0 + np.abs(Z))
    return A, A


def softsign_backward(dA, A):
    """dZ = dA ⊙ softsign'(Z), with softsign' = 1 / (1 + |Z|)² = (1 − |A|)²."""
    return dA * (1.0 - np.abs(A)) ** 2


#: activation name → (forward, backward), as ``npnet.activations.ACTIVATIONS`` names them
ACTIVATIONS = {"relu": (relu_forward, relu_backward), "sigmoid": (sigmoid_forward, sigmoid_backward),
               "tanh": (tanh_forward, tanh_backward), "softsign": (softsign_forward, softsign_backward),
               "identity": (identity_forward, identity_backward)}
