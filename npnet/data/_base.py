"""What every MNIST source shares: the error type, the image format, the two data sets' descriptions, and the
decoded arrays a source hands to the loaders (``Pool``)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np

SOURCE_ENV = "NPNET_DATA"
FASHION_SOURCE_ENV = "NPNET_FASHION_DATA"

IMAGE_SHAPE = (28, 28)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
N_CLASSES = 10

# sha256 of the decoded t10k label arrays of the published data sets. Both test sets hold 10,000
# labels, so a directory of one data set handed to the other loader is recognised and refused.
_MNIST_T10K_LABELS_SHA256 = "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"
_FASHION_T10K_LABELS_SHA256 = "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9"


class DataError(ValueError):
    """A data file is corrupt or malformed, or no source could provide the requested data set."""


@dataclass(frozen=True)
class Spec:
    """What distinguishes one data set from the other."""

    key: str             # "mnist" / "fashion-mnist": DataSplit.dataset and file names
    label: str           # human name in messages
    loader: str          # the public function that loads it
    env_var: str
    openml_name: str
    openml_version: int
    data_id: int
    t10k_labels_sha256: str
    bundled: bool


MNIST = Spec(key="mnist", label="MNIST", loader="load_mnist", env_var=SOURCE_ENV,
             openml_name="mnist_784", openml_version=1, data_id=554,
             t10k_labels_sha256=_MNIST_T10K_LABELS_SHA256, bundled=True)
FASHION = Spec(key="fashion-mnist", label="Fashion-MNIST", loader="load_fashion_mnist",
               env_var=FASHION_SOURCE_ENV, openml_name="Fashion-MNIST", openml_version=1,
               data_id=40996, t10k_labels_sha256=_FASHION_T10K_LABELS_SHA256, bundled=False)
SPECS = {spec.key: spec for spec in (MNIST, FASHION)}


@dataclass
class Pool:
    """Decoded images ``(N, 784)`` uint8 and labels ``(N,)`` uint8 of one source.

    ``X_train is None`` means the source holds a single split (t10k) to carve train and test from.
    """

    X_train: Optional[np.ndarray]
    y_train: Optional[np.ndarray]
    X_test: np.ndarray
    y_test: np.ndarray
    kind: str
    source: str


def say(message: str) -> None:
    print(f"npnet.data: {message}", file=sys.stderr, flush=True)


def one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
