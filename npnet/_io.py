"""Files in and out: one atomic writer (shared by the data cache, the IDX writer and the experiments' figures and
JSON), and careful readers for files that come from outside (a saved network, a cache entry).

The readers treat a file as untrusted input: only a regular file is opened (a FIFO would block, /dev/zero never
ends), sizes are checked before anything is read or decompressed, and every problem is a ``ValueError`` saying
what is wrong (a missing file stays a ``FileNotFoundError``).
"""
import contextlib
import lzma
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path, write, mode="wb"):
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it over ``path``.

    Readers never see half a file, and an exception (or Ctrl-C) leaves nothing behind: the temporary file is
    removed and ``path`` keeps its old content. The temporary file's name holds the process id, so that one left by
    a killed process (SIGKILL, a power cut) is recognised and removed by a later run (``remove_stale``). The parent directory is created if needed; the file gets the
    usual permissions (0666 minus the umask), not mkstemp's owner-only ones.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
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


#: what a process leaves behind when killed mid-write: ``atomic_write``'s ``.<name>.<pid>-<random>.tmp`` files and
#: the experiments' ``.staging-<pid>-<random>`` directories
_LEFT_BEHIND = re.compile(r"(?:\..+\.(?P<tmp>\d+)-[^.]+\.tmp|\.staging-(?P<stage>\d+)-[^.]+)")


def remove_stale(directory):
    """Remove from ``directory`` the temporary files and staging directories of processes that no longer run (the
    process id is in the name; a live process's are left alone). Returns the names removed; never raises."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _LEFT_BEHIND.fullmatch(entry.name)
        if match is None or _alive(int(match["tmp"] or match["stage"])):
            continue
        try:
            if match["stage"] and entry.is_dir(follow_symlinks=False):
                import shutil
                shutil.rmtree(entry.path)
            elif match["tmp"] and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
            else:
                continue
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def _alive(pid):
    """Whether process ``pid`` exists on this machine (another user's counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def open_regular(path, max_bytes=None):
    """Open ``path`` for reading (binary) if it is a regular file of at most ``max_bytes``, else ``ValueError``.

    The check is made on the opened file (no race with a swap), and the open does not block on a FIFO.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"not a regular file but {_file_kind(info.st_mode)}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise ValueError(f"{info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_kind(mode):
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "a special file")


# Everything that a damaged archive can raise while it is read: wrapped into one ValueError by the callers.
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
                  KeyError, TypeError, NotImplementedError, RuntimeError, struct.error, OverflowError)


class NpzArchive:
    """The arrays of an ``.npz`` file (as ``np.savez`` writes it), each read only after its ``.npy`` header (a few
    hundred bytes, decompressed alone) has been checked: no member is decompressed before the caller knows its
    shape and dtype, and reading stops at the size the header declares.

    Errors are ``ValueError`` without the file name (the caller adds it); use as a context manager.
    """

    def __init__(self, path):
        self._file = open_regular(path)
        try:
            if self._file.read(6) == b"\x93NUMPY":
                raise ValueError("it holds a single array (.npy), not an .npz archive")
            self._file.seek(0)
            try:
                self._zip = zipfile.ZipFile(self._file)
            except zipfile.BadZipFile as exc:
                raise ValueError(f"not an .npz (zip) archive: {exc}") from None
            self.members = {}
            for info in self._zip.infolist():
                name = info.filename
                if not name.endswith(".npy") or info.is_dir():
                    raise ValueError(f"member {name!r} is not an array (.npy)")
                if name[:-4] in self.members:
                    raise ValueError(f"member {name!r} appears twice")
                self.members[name[:-4]] = info
        except BaseException:
            self._file.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()
        self._file.close()

    def header(self, name):
        """``(shape, dtype)`` of member ``name`` from its .npy header; also checks that the member's declared size is
        exactly header plus data (so reading it can neither run on nor stop short)."""
        info = self.members[name]
        with self._zip.open(info) as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            header_bytes = f.tell()
        if dtype.hasobject or dtype.kind not in "biufcU" or dtype.fields is not None:
            raise ValueError(f"member {name!r} has dtype {dtype}, not plain numbers (Python objects are never loaded)")
        expected = header_bytes + int(np.prod(shape, dtype=object)) * dtype.itemsize
        if info.file_size != expected:
            raise ValueError(f"member {name!r} declares {info.file_size:,} bytes; its header says {expected:,}")
        return shape, dtype

    def array(self, name):
        """Member ``name`` as an array (call ``header`` first and check what it says); the CRC is verified."""
        with self._zip.open(self.members[name]) as f:
            value = np.lib.format.read_array(f, allow_pickle=False)
            if f.read(1):   # also reaches the end of the member, where zipfile checks its CRC-32
                raise ValueError(f"member {name!r} has data after its array")
        return value
