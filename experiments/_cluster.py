"""Sending an experiment's parallel tasks to a Dask cluster: ``--dask ADDRESS`` or ``$NPNET_DASK_SCHEDULER``.

Every experiment with --jobs also takes --dask. With an address, the run opens a ``dask.distributed.Client`` to
that scheduler (a short connection timeout: a wrong address is one line and exit code 2, never a hang), prints the
dashboard link, and ``parallel_map`` sends its tasks through joblib's dask backend
(``joblib.parallel_config(backend="dask")``) instead of local worker processes. The results are the same as with
``--jobs 1``: each task still runs with one BLAS thread, and joblib returns the results in task order.

Dask is optional (``pip install -e ".[cluster]"``); without it, --dask is one line and exit code 2. What the
workers need: npnet importable (the same version), and every path they write (phase's --cache) on a file system
they share with each other, given as an absolute path: a relative one is refused when the scheduler is not on
this machine, since it would name a different directory on each worker.

State: one client per process, opened by ``connect`` and closed by ``close`` (or by the next ``connect``).
"""
import contextlib
import ipaddress
import os
import socket
import sys
from pathlib import Path

ENV = "NPNET_DASK_SCHEDULER"
CONNECT_TIMEOUT = 5.0      # seconds to reach the scheduler, then to see at least one worker
INSTALL_HINT = 'pip install -e ".[cluster]" (or pip install "dask[distributed]")'


class ClusterError(Exception):
    """A --dask problem the user can fix (no dask, a bad or unreachable address, a relative shared path): one line
    (the command line turns it into exit code 2)."""


_STATE = {"client": None, "address": None}


def argument_help(shared=None):
    """The --dask help text; ``shared`` names the paths the workers write (e.g. "--cache")."""
    text = (f"send the parallel tasks to the Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786; default: "
            f"${ENV} if set) instead of local --jobs processes; needs {INSTALL_HINT}")
    if shared:
        text += (f"; {shared} must then be a directory every worker can write (a shared file system), "
                 f"absolute when the scheduler is on another machine")
    return text


def add_argument(parser, shared=None):
    """Add ``--dask ADDRESS`` to an argparse parser (resolve it with :func:`address`)."""
    parser.add_argument("--dask", metavar="ADDRESS", default=None, help=argument_help(shared))


def address(value):
    """The scheduler address: ``value`` (from --dask) if given, else ``$NPNET_DASK_SCHEDULER``, else None (no
    cluster). An empty --dask is an error; an empty environment variable counts as unset."""
    if value is not None:
        if not value.strip():
            raise ClusterError("--dask needs a scheduler address, e.g. tcp://10.0.0.5:8786")
        return value.strip()
    return os.environ.get(ENV, "").strip() or None


def _host(addr):
    """The host part of a Dask address ``[scheme://]host[:port]`` (IPv6 in brackets), or None for inproc."""
    scheme, sep, rest = addr.partition("://")
    if not sep:
        rest = addr
    elif scheme == "inproc":
        return None
    if rest.startswith("["):
        return rest[1:].partition("]")[0]
    return rest.rpartition(":")[0] if rest.count(":") == 1 else rest


def is_local(addr):
    """Whether the scheduler at ``addr`` runs on this machine: a loopback address, ``localhost``, this machine's
    host name, or an in-process scheduler. Anything else counts as remote (no name lookup: it could hang)."""
    host = _host(addr)
    if host is None:
        return True
    if host.lower() in ("", "localhost", socket.gethostname().lower()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_shared_paths(addr, paths):
    """With a remote scheduler, refuse relative paths among ``paths`` ({option: path or None}): each worker would
    resolve them in its own working directory."""
    if addr is None or is_local(addr):
        return
    for option, path in paths.items():
        if path is not None and not Path(path).is_absolute():
            raise ClusterError(f"{option} {path} is a relative path, but the Dask scheduler {addr} is on another "
                               f"machine: give an absolute path on a file system every worker shares")


def require_dask():
    """Import ``dask.distributed`` or raise ClusterError saying how to install it."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError as exc:
        raise ClusterError(f"--dask needs dask.distributed, which is not installed ({exc}): {INSTALL_HINT}") \
            from None


def _one_line(exc, limit=200):
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _probe(addr, timeout):
    """Open and close one connection to ``addr`` the way a client does (TLS settings from dask's configuration).

    A ``Client`` whose constructor fails is left half-made: at exit its ``__del__`` waits 10 s to close it and prints
    a traceback. Probing first keeps every failure of a bad address out of ``Client``."""
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    async def probe():
        comm = await connect(addr, timeout=timeout, **Security().get_connection_args("client"))
        await comm.close()

    asyncio.run(probe())


def _reason(exc):
    """Why a connection failed, in one line."""
    if isinstance(exc, (OSError, ValueError)):          # unreachable, refused, timed out; malformed address
        return _one_line(exc)
    # Something answered, but not a Dask scheduler (seen here: a proxy's reply read as a frame length, MemoryError).
    return f"what answered is not a Dask scheduler ({type(exc).__name__} reading its reply)"


def connect(addr, *, timeout=CONNECT_TIMEOUT, say=None):
    """Open the process's client to the scheduler at ``addr`` (closing any previous one), wait until it has a
    worker, ``say`` the dashboard link (default: a line on stderr); returns the client. Every failure is a one-line
    ClusterError."""
    require_dask()
    from dask.distributed import Client
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    close()
    try:
        if not addr.startswith("inproc://"):
            _probe(addr, timeout)
        client = Client(addr, timeout=timeout, set_as_default=False)
    except Exception as exc:
        raise ClusterError(f"cannot connect to the Dask scheduler at {addr} within {timeout:g} s: "
                           f"{_reason(exc)}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except Exception:
        client.close()
        raise ClusterError(f"the Dask scheduler at {addr} has no workers (waited {timeout:g} s): start some with "
                           f"`dask worker {addr} --nthreads 1`") from None
    _STATE["client"], _STATE["address"] = client, addr
    workers = client.scheduler_info(n_workers=-1)["workers"]
    threads = sorted({w.get("nthreads", 1) for w in workers.values()})
    say(f"Dask: {len(workers)} worker(s), {sum(w.get('nthreads', 1) for w in workers.values())} thread(s) at "
        f"{addr}; dashboard {client.dashboard_link}")
    if threads != [1]:
        say("Dask: workers with more than one thread share one process-wide BLAS limit; start them with "
            "--nthreads 1 for results bitwise identical to --jobs 1")
    return client


def active():
    """The open client, or None."""
    return _STATE["client"]


def active_address():
    """The scheduler address of the open client, or None."""
    return _STATE["address"]


def close():
    """Close the open client, if any."""
    client, _STATE["client"], _STATE["address"] = _STATE["client"], None, None
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()


def joblib_config():
    """The joblib configuration for ``Parallel``: the dask backend on the open client, or nothing."""
    client = active()
    if client is None:
        return contextlib.nullcontext()
    import joblib
    return joblib.parallel_config(backend="dask", client=client)
