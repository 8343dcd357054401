"""npnet: a small, pure-NumPy neural-network library for learning backprop and weight initialization.

Start reading at ``reference``: backprop as plain functions, the formulas the layers compute.

Modules, one concept each: ``activations``, ``layers`` (Dense, Activation), ``losses``, ``init``, ``network``
(Network, mlp), ``optim`` (SGD, Adam), ``training`` (train for classification and regression, evaluate),
``gradcheck``, ``probes``, ``meanfield`` (signal-propagation theory), ``products`` (the "blas" / "exact"
matrix-product backends) and ``data`` (MNIST loaders, a package: ``idx``, ``local``, ``openml``, ``loaders``).
"""
from . import activations, data, gradcheck, init, losses, meanfield, optim, probes, products, reference
from .layers import Activation, Dense
from .losses import MSE, SoftmaxCrossEntropy
from .network import Network, load, mlp
from .optim import SGD, Adam
from .training import DivergenceError, evaluate, train

__version__ = "0.1.0"
__all__ = ["Activation", "Dense", "MSE", "SoftmaxCrossEntropy", "Network", "load", "mlp", "SGD", "Adam", "evaluate",
           "train", "DivergenceError"]
