"""One atomic file writer, shared by the data cache, the IDX writer and the experiments' figures and JSON."""
import contextlib
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it over ``path``.

    Readers never see half a file, and an exception (or Ctrl-C) leaves nothing behind: the temporary file is
    removed and ``path`` keeps its old content. The parent directory is created if needed; the file gets the
    usual permissions (0666 minus the umask), not mkstemp's owner-only ones.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
