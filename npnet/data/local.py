"""Sources on disk: the MNIST t10k split bundled in the checkout's ``data/``, and any directory of IDX files."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ._base import SPECS, DataError, Pool, Spec
from .idx import IDX_STEMS, find_idx_files, read_idx_pair

# The checkout's data/ directory: the bundled t10k files live here, and (in a checkout) the caches.
_REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_DIR = _REPO_ROOT / "data"
# Where Debian's ``dataset-fashion-mnist`` package installs the full Fashion-MNIST IDX set.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def refuse_other_dataset(y_test: np.ndarray, spec: Spec, where: str) -> None:
    """Raise if ``y_test`` is the published test set of the *other* data set."""
    digest = hashlib.sha256(np.ascontiguousarray(y_test, dtype=np.uint8)).hexdigest()
    for other in SPECS.values():
        if other is not spec and digest == other.t10k_labels_sha256:
            raise DataError(f"{where} holds {other.label}, not {spec.label} (its t10k labels are "
                            f"the published {other.label} test set); load it with {other.loader}()")


def pool_from_idx_dir(directory: Path, spec: Spec) -> Pool:
    """Load an IDX directory; carve from t10k when the train files are absent."""
    try:
        files = find_idx_files(directory)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    X_test, y_test = read_idx_pair(files["test_images"], files["test_labels"])
    refuse_other_dataset(y_test, spec, f"IDX directory {directory}")
    if "train_images" not in files:
        return Pool(None, None, X_test, y_test, kind="idx",
                     source=f"IDX dir {directory} (t10k only)")
    X_train, y_train = read_idx_pair(files["train_images"], files["train_labels"])
    return Pool(X_train, y_train, X_test, y_test, kind="idx", source=f"IDX dir {directory}")


def bundled_pool() -> Pool:
    """The MNIST t10k split shipped in the checkout's ``data/``."""
    images = BUNDLED_DIR / (IDX_STEMS["test_images"] + ".gz")
    labels = BUNDLED_DIR / (IDX_STEMS["test_labels"] + ".gz")
    if not (images.is_file() and labels.is_file()):
        raise DataError(f"the bundled MNIST files are not in {BUNDLED_DIR}: they ship with a "
                        f"source checkout of npnet; use source='openml' or an IDX directory")
    X, y = read_idx_pair(images, labels)
    return Pool(None, None, X, y, kind="bundled", source="bundled MNIST test split (t10k)")


def default_data_home() -> Path:
    """Where caches go: the checkout's ``data/`` if running from a git checkout, else sklearn's.

    Returns
    -------
    Path
        ``<checkout>/data`` when ``npnet`` is imported from a git checkout (its ``cache/`` and
        ``openml/`` subdirectories are git-ignored), else :func:`sklearn.datasets.get_data_home`.
    """
    if (_REPO_ROOT / ".git").exists() and BUNDLED_DIR.is_dir():
        return BUNDLED_DIR
    from sklearn.datasets import get_data_home
    return Path(get_data_home())
