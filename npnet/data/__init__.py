"""MNIST and Fashion-MNIST as flat ``[0, 1]`` arrays, online or offline.

Every loader returns ``(X_train, y_train, X_test, y_test)`` with

- ``X_train`` ``(n_train, 784)`` and ``X_test`` ``(n_test, 784)``: pixels ``x / 255`` in the
  requested floating dtype, rows are 28×28 images flattened in C order;
- ``y_train`` ``(n_train,)`` and ``y_test`` ``(n_test,)``: ``int64`` class labels 0–9.

Where the data comes from (``source``):

``"auto"`` (default)
    The decoded cache in the data home, else OpenML through :func:`sklearn.datasets.fetch_openml`,
    else (MNIST only) the bundled offline split, else (Fashion-MNIST only) Debian's
    ``/usr/share/datasets/fashion-mnist``.
``"openml"``
    The cache, else OpenML; an error if neither is available.
``"bundled"``
    MNIST only: the genuine MNIST test set (t10k, 10,000 images) shipped in the checkout's
    ``data/``. Train and test are carved from it, so ``n_train + n_test`` must fit in 10,000.
a directory
    Any directory holding the IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
    With only the t10k pair present, train and test are carved from it as for ``"bundled"``.

``source=None`` reads ``$NPNET_DATA`` (MNIST) or ``$NPNET_FASHION_DATA`` (Fashion-MNIST) and falls
back to ``"auto"``. The two variables are separate so that a directory of one data set is never
read as the other.

Data home layout (default: the checkout's ``data/``, else :func:`sklearn.datasets.get_data_home`)::

    <data_home>/cache/npnet-mnist-openml554.npz            decoded uint8 arrays + sha256
    <data_home>/cache/npnet-fashion-mnist-openml40996.npz
    <data_home>/openml/...                                 scikit-learn's download cache
"""
from ._base import FASHION_SOURCE_ENV, IMAGE_SHAPE, N_CLASSES, N_PIXELS, SOURCE_ENV, DataError
from .idx import read_idx, write_idx
from .loaders import SUBSETS, DataSplit, load_fashion_mnist, load_mnist, validate_source
from .local import BUNDLED_DIR, default_data_home

__all__ = [
    "DataError",
    "DataSplit",
    "FASHION_SOURCE_ENV",
    "SOURCE_ENV",
    "default_data_home",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "validate_source",
    "write_idx",
]
