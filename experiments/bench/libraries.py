"""The library contenders, one timed epoch each: npnet itself, scikit-learn's MLPClassifier and (if installed)
PyTorch."""
import time
import warnings

import numpy as np

import npnet

from .workload import BATCH, LR, SIZES


def npnet_epoch(X, y, dtype, products, seed):
    """A fresh net and one timed epoch of npnet training (``products``: "blas", the default, or "exact")."""
    rng = np.random.default_rng(seed)
    net = npnet.mlp(SIZES, "relu", "he_normal", rng=rng, dtype=dtype, products=products)
    opt = npnet.SGD(net, lr=LR)
    start = time.perf_counter()
    npnet.train(net, X, y, optimizer=opt, epochs=1, batch_size=BATCH, rng=rng, eval_train=False)
    return time.perf_counter() - start


def sklearn_epoch(X, y, dtype, seed):
    """scikit-learn's MLPClassifier, same sizes and SGD settings: one timed ``partial_fit`` epoch."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu", solver="sgd", batch_size=BATCH,
                        learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0, shuffle=True,
                        random_state=seed)
    Xd = X.astype(dtype, copy=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(Xd[:BATCH], y[:BATCH], classes=np.arange(10))   # initialisation, not timed
        start = time.perf_counter()
        clf.partial_fit(Xd, y)
    return time.perf_counter() - start


def torch_epoch(X, y, dtype, seed):
    """PyTorch eager CPU, same network and SGD; one timed epoch. Only called when torch imports."""
    import torch

    torch.manual_seed(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=tdtype))
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X.astype(dtype, copy=False))
    yt = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    order = torch.randperm(Xt.shape[0], generator=gen)
    for s in range(0, Xt.shape[0], BATCH):
        idx = order[s:s + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
