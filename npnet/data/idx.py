"""The IDX file format of the original MNIST distribution: read, write, and find the four files in a directory."""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .._io import atomic_write
from ._base import IMAGE_SHAPE, N_CLASSES, N_PIXELS, DataError

_IDX_UBYTE = 0x08
_IDX_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
                   0x0D: "float", 0x0E: "double"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Union[str, os.PathLike], *, ndim: Optional[int] = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or gzip-compressed).

    The IDX header is two zero bytes, the type code (``0x08`` = unsigned byte), the number of
    dimensions, then one big-endian uint32 per dimension; the data follow in C order. MNIST images
    have magic number ``0x00000803`` (3-D) and labels ``0x00000801`` (1-D).

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is decompressed when it starts with the gzip magic bytes; a name ending in
        ``.gz`` must be gzip-compressed.
    ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels). ``None`` accepts any.

    Returns
    -------
    ndarray of uint8, shape given by the header, e.g. ``(N, 28, 28)`` or ``(N,)``
        A fresh, writable array.

    Raises
    ------
    DataError
        The file is truncated, is a corrupt gzip stream, has a bad magic number, an unsupported type
        code, the wrong number of dimensions, or more or fewer data bytes than its header declares.
        The message names the file.
    OSError
        The file cannot be opened.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc
    elif path.suffix == ".gz":
        raise DataError(f"{path}: named .gz but is not gzip-compressed "
                        f"(starts with {raw[:4].hex() or 'nothing: empty file'})")
    else:
        data = raw

    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX header (at least 4)")
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: bad magic number 0x{magic:08x}; an IDX file starts with two zero "
                        f"bytes (MNIST images 0x00000803, labels 0x00000801)")
    type_code, n_dims = data[2], data[3]
    if type_code != _IDX_UBYTE:
        name = _IDX_TYPE_NAMES.get(type_code, "unknown")
        raise DataError(f"{path}: IDX type code 0x{type_code:02x} ({name}) is not supported; "
                        f"only 0x08 (unsigned byte) is")
    if n_dims == 0:
        raise DataError(f"{path}: magic number 0x{magic:08x} declares 0 dimensions")
    if ndim is not None and n_dims != ndim:
        raise DataError(f"{path}: magic number 0x{magic:08x} declares {n_dims} dimension(s), "
                        f"expected 0x{0x800 | ndim:08x} ({ndim})")
    header_len = 4 + 4 * n_dims
    if len(data) < header_len:
        raise DataError(f"{path}: truncated header: {n_dims} dimensions need {header_len} bytes, "
                        f"the file has {len(data)}")
    dims = struct.unpack(f">{n_dims}I", data[4:header_len])
    expected = math.prod(dims)
    found = len(data) - header_len
    if found < expected:
        raise DataError(f"{path}: truncated: header declares shape {dims} = {expected:,} data "
                        f"bytes, found {found:,}")
    if found > expected:
        raise DataError(f"{path}: wrong length: header declares shape {dims} = {expected:,} data "
                        f"bytes, found {found:,} ({found - expected:,} extra)")
    array = np.frombuffer(data, dtype=np.uint8, count=expected, offset=header_len)
    return array.reshape(dims).copy()


def write_idx(path: Union[str, os.PathLike], array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    The file is written to a temporary name in the same directory and renamed into place, so a
    reader never sees a half-written file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, e.g. ``"t10k-images-idx3-ubyte.gz"``.
    array : ndarray of uint8, shape ``(d1, ..., dk)`` with 1 <= k <= 255
        ``(N, 28, 28)`` for images (magic ``0x00000803``), ``(N,)`` for labels (``0x00000801``).

    Raises
    ------
    TypeError
        ``array`` is not of dtype uint8 (IDX type 0x08).
    ValueError
        ``array`` has 0 or more than 255 dimensions, or a dimension of 2**32 or more.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"array must have dtype uint8 (IDX type 0x08), got {array.dtype}; "
                        f"check the range and convert with .astype(np.uint8)")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions for IDX, got {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"array shape {array.shape} has a dimension too large for IDX (< 2**32)")
    payload = (bytes([0, 0, _IDX_UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + np.ascontiguousarray(array).tobytes())
    path = Path(path)
    if path.suffix == ".gz":
        # mtime=0 makes the compressed bytes a function of the array alone.
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, lambda f: f.write(payload))


IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_FORMS = ("a directory holding t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] "
              "(optionally train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz])")


def find_idx_files(directory: Path) -> dict:
    """Map ``train_images`` … ``test_labels`` to the files present in ``directory``.

    Accepts the original names with or without ``.gz`` and the common ``train-images.idx3-ubyte``
    spelling. Raises ValueError when the t10k pair or half of the train pair is missing.
    """
    found = {}
    for role, stem in IDX_STEMS.items():
        dotted = stem.replace("-idx", ".idx")
        for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
            if (directory / name).is_file():
                found[role] = directory / name
                break
    missing = [IDX_STEMS[r] + "[.gz]" for r in ("test_images", "test_labels") if r not in found]
    if missing:
        raise ValueError(f"IDX directory {directory} lacks {' and '.join(missing)}; "
                         f"expected {IDX_FORMS}")
    if ("train_images" in found) != ("train_labels" in found):
        have, lack = (("train_images", "train_labels") if "train_images" in found
                      else ("train_labels", "train_images"))
        raise ValueError(f"IDX directory {directory} has {found[have].name} but no "
                         f"{IDX_STEMS[lack]}[.gz]; supply both train files or neither")
    return found


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple:
    """Read and cross-check one images/labels pair; returns ``(N, 784)`` and ``(N,)`` uint8."""
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
                        f"expected {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images):,} images but {labels_path} holds "
                        f"{len(labels):,} labels")
    if len(labels) and labels.max() >= N_CLASSES:
        raise DataError(f"{labels_path}: label {int(labels.max())} is outside 0..{N_CLASSES - 1}")
    return images.reshape(len(images), N_PIXELS), labels
