"""Work arrays that the layers and losses keep and reuse from one training step to the next."""
import numpy as np


def buffer(buffers, key, shape, dtype):
    """The array ``buffers[key]``, (re)allocated only when the shape or dtype asked for changes."""
    buf = buffers.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[key] = np.empty(shape, dtype=dtype)
    return buf
