"""--dask: the scheduler address, what counts as local, shared paths, the errors; a real LocalCluster when dask is
installed (CI installs only .[test]: those tests skip there)."""
import importlib.util
import sys

import pytest

# Imported now, at collection: experiments._console's Progress binds sys.stderr when first imported, and inside a
# test that would be the test's capture stream, closed by the next test.
from experiments import _cli, _cluster, _ledger  # noqa: F401
from experiments import all as run_all  # noqa: F401

def _has_dask():
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("dask", "distributed"))
    except (ImportError, ValueError):     # ValueError: blocked in sys.modules (how the no-dask case is simulated)
        return False


HAS_DASK = _has_dask()
needs_dask = pytest.mark.skipif(not HAS_DASK, reason="dask.distributed not installed (pip install -e '.[cluster]')")


@pytest.fixture(autouse=True)
def no_client(monkeypatch):
    monkeypatch.delenv(_cluster.ENV, raising=False)
    yield
    _cluster.close()


def test_address_from_the_option_then_the_environment(monkeypatch):
    assert _cluster.address(None) is None
    monkeypatch.setenv(_cluster.ENV, "  ")
    assert _cluster.address(None) is None, "an empty variable counts as unset"
    monkeypatch.setenv(_cluster.ENV, "tcp://10.0.0.5:8786")
    assert _cluster.address(None) == "tcp://10.0.0.5:8786"
    assert _cluster.address(" tcp://127.0.0.1:8786 ") == "tcp://127.0.0.1:8786", "the option wins"
    with pytest.raises(_cluster.ClusterError, match="needs a scheduler address"):
        _cluster.address("")


@pytest.mark.parametrize("addr, local", [
    ("tcp://127.0.0.1:8786", True), ("127.0.0.1:8786", True), ("tcp://127.0.1.1:8786", True),
    ("tcp://localhost:8786", True), ("localhost", True), ("tcp://[::1]:8786", True), ("inproc://10.0.0.5/1/1", True),
    ("tcp://10.0.0.5:8786", False), ("10.0.0.5:8786", False), ("tls://scheduler.example.org:8786", False),
    ("tcp://[2001:db8::1]:8786", False), ("scheduler:8786", False),
])
def test_what_counts_as_this_machine(addr, local):
    assert _cluster.is_local(addr) is local


def test_this_machines_host_name_is_local():
    import socket
    assert _cluster.is_local(f"tcp://{socket.gethostname()}:8786")


def test_relative_shared_paths_are_refused_only_with_a_remote_scheduler(tmp_path):
    _cluster.check_shared_paths(None, {"--cache": "rel"})
    _cluster.check_shared_paths("tcp://127.0.0.1:8786", {"--cache": "rel"})
    _cluster.check_shared_paths("tcp://10.0.0.5:8786", {"--cache": tmp_path, "--other": None})
    with pytest.raises(_cluster.ClusterError, match=r"--cache figures/\.phase-cache is a relative path, but the "
                                                    r"Dask scheduler tcp://10\.0\.0\.5:8786 is on another machine"):
        _cluster.check_shared_paths("tcp://10.0.0.5:8786", {"--cache": "figures/.phase-cache"})


def test_help_names_the_install_and_the_shared_path():
    text = _cluster.argument_help("--cache")
    assert '.[cluster]' in text and _cluster.ENV in text and "--cache must then be a directory every worker" in text
    assert "--cache" not in _cluster.argument_help()


def test_without_dask_one_line_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)    # import dask.distributed → ImportError
    with pytest.raises(_cluster.ClusterError, match=r'^--dask needs dask\.distributed, which is not installed .*'
                                                    r'pip install -e "\.\[cluster\]"'):
        _cluster.connect("tcp://127.0.0.1:8786")
    assert _cluster.active() is None


def test_without_a_client_joblib_is_left_alone():
    import joblib
    with _cluster.joblib_config():
        assert joblib.Parallel(n_jobs=1)(joblib.delayed(abs)(-i) for i in range(3)) == [0, 1, 2]


@needs_dask
@pytest.mark.parametrize("addr, reason", [
    ("tcp://127.0.0.1:1", "Timed out trying to connect"),       # nothing listens: refused, retried until the timeout
    ("no-port", "missing port number"),
    ("http://127.0.0.1:8787", "unknown address scheme 'http'"),
])
def test_a_bad_address_is_one_error_within_the_timeout(addr, reason):
    with pytest.raises(_cluster.ClusterError) as info:
        _cluster.connect(addr, timeout=1)
    message = str(info.value)
    assert message.startswith(f"cannot connect to the Dask scheduler at {addr} within 1 s: ") and reason in message
    assert "\n" not in message and _cluster.active() is None


@needs_dask
def test_something_that_is_not_a_scheduler_is_one_error(capfd):
    """A server that answers with something else (here: an HTTP reply) is refused in one line, and nothing is left
    behind that would print a traceback or wait at exit (a half-made Client does both)."""
    import gc
    import socket
    import threading
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        for _ in range(2):
            conn, _ = server.accept()
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(_cluster.ClusterError, match=f"^cannot connect to the Dask scheduler at "
                                                        f"tcp://127.0.0.1:{port} within 2 s: "):
            _cluster.connect(f"tcp://127.0.0.1:{port}", timeout=2)
    finally:
        server.close()
    gc.collect()
    assert "Traceback" not in capfd.readouterr().err


@pytest.fixture(scope="module")
def local_cluster():
    """Two worker processes with one thread each on this machine (the dashboard on a free port)."""
    if not HAS_DASK:
        pytest.skip("dask.distributed not installed")
    import os
    from dask.distributed import LocalCluster
    # Starting the workers sets OMP/MKL/OPENBLAS_NUM_THREADS=1 in this process's environment and leaves them set:
    # every later subprocess (other tests' experiment runs) would then record one BLAS thread. Put it back.
    saved = dict(os.environ)
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
            os.environ.clear()
            os.environ.update(saved)
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(saved)


@needs_dask
def test_connect_prints_the_dashboard_and_joblib_runs_on_the_cluster(local_cluster):
    import joblib
    said = []
    client = _cluster.connect(local_cluster.scheduler_address, say=said.append)
    assert _cluster.active() is client
    assert len(said) == 1 and said[0].startswith(f"Dask: 2 worker(s), 2 thread(s) at "
                                                 f"{local_cluster.scheduler_address}; dashboard http")
    assert client.dashboard_link in said[0]
    with _cluster.joblib_config():
        pids = joblib.Parallel(n_jobs=-1)(joblib.delayed(_worker_pid)(i) for i in range(8))
    import os
    workers = set(client.run(os.getpid).values())
    assert set(pids) <= workers and len(pids) == 8, "the tasks ran in the cluster's worker processes"
    _cluster.close()
    assert _cluster.active() is None and client.status == "closed"


def _worker_pid(_):
    import os
    return os.getpid()


# ---------------------------------------------------------------------------------------------------------------
# The command line: python -m experiments.<name> --dask ADDRESS
# ---------------------------------------------------------------------------------------------------------------

JOBS_EXPERIMENTS = ["depth", "training", "regression", "phase"]


def run_cli(name, argv, cwd, env=None):
    import os
    import subprocess
    return subprocess.run([sys.executable, "-m", f"experiments.{name}", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("name", JOBS_EXPERIMENTS + ["all"])
def test_every_experiment_with_jobs_has_dask(name, capsys):
    import importlib
    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit):
        (module.parse if name in ("all", "training") else module.main)(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--dask ADDRESS" in text and _cluster.ENV in text and ".[cluster]" in text


def test_phase_help_says_the_cache_must_be_shared(capsys):
    from experiments import phase
    with pytest.raises(SystemExit):
        phase.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--cache must then be a directory every worker can write" in text


def test_phase_refuses_a_relative_cache_with_a_remote_scheduler_before_connecting(tmp_path, monkeypatch, capsys):
    from conftest import assert_usage_error
    monkeypatch.setattr(_cluster, "connect", lambda *a, **k: pytest.fail("connected despite the relative --cache"))
    out = tmp_path / "out"
    assert_usage_error("phase", ["--quick", "--out", str(out), "--cache", "rel-cache", "--dask",
                                 "tcp://10.0.0.5:8786"], out, capsys)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(_cluster.ENV, "tcp://10.0.0.5:8786")     # the same through the variable, default cache
    assert_usage_error("phase", ["--quick", "--out", "out"], tmp_path / "out", capsys)


def test_phase_without_dask_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    from conftest import assert_usage_error
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    out = tmp_path / "out"
    assert_usage_error("phase", ["--quick", "--out", str(out), "--dask", "tcp://127.0.0.1:8786"], out, capsys)


@needs_dask
def test_phase_bad_address_is_one_line_and_exit_2_without_a_hang(tmp_path):
    from conftest import assert_cli_usage_error
    assert_cli_usage_error("phase", ["--quick", "--out", str(tmp_path / "out"), "--dask", "tcp://127.0.0.1:1"],
                           tmp_path / "out")


@needs_dask
def test_parallel_map_on_a_local_cluster_gives_the_jobs_1_results(local_cluster, tmp_path):
    """phase's own task, float32 training cells, through parallel_map on the cluster and in-process: bitwise the
    same results, and the cache files written by the workers hold them (the fast counterpart of the slow CLI test
    below)."""
    import json
    import numpy as np
    from experiments import _parallel as parallel
    from experiments.phase import grid
    from npnet.data import load_mnist
    split = load_mnist(256, 200, seed=0, source="bundled", dtype=np.float32, verbose=False)
    cells = [grid.cell_settings(act, s2, depth, steps=12, n_train=256, n_test=200, seed=0, dtype="float32",
                                data_source=split.source) for act, s2, depth in
             [("tanh", 1.0, 2), ("tanh", 3.0, 10), ("relu", 2.0, 5), ("tanh", 1.75, 3)]]
    data = tuple(split[:4])
    _cluster.connect(local_cluster.scheduler_address, say=lambda line: None)
    assert parallel.where(2) == f"the Dask cluster at {local_cluster.scheduler_address}"
    on_cluster = parallel.parallel_map(grid.train_cell, [(c, data, tmp_path) for c in cells], jobs=2)
    _cluster.close()
    assert parallel.where(2) == "--jobs 2"
    in_process = parallel.parallel_map(grid.train_cell, [(c, data, None) for c in cells], jobs=1)
    assert on_cluster == in_process
    assert [json.loads(grid.cache_path(tmp_path, c).read_text())["result"] for c in cells] == in_process


@pytest.mark.slow
@needs_dask
def test_phase_quick_on_a_local_cluster_equals_jobs_1(local_cluster, tmp_path):
    """The CLI end to end: the same phase.json (apart from "runtime") and figures as --jobs 1, the cache written by
    the workers, the dashboard link printed."""
    import json
    one = run_cli("phase", ["--quick", "--jobs", "1", "--out", "one"], tmp_path)
    assert one.returncode == 0, one.stderr
    dask = run_cli("phase", ["--quick", "--out", "dask"], tmp_path,
                   env={_cluster.ENV: local_cluster.scheduler_address})
    assert dask.returncode == 0, dask.stderr
    assert f"Dask: 2 worker(s), 2 thread(s) at {local_cluster.scheduler_address}; dashboard http" in dask.stderr
    a, b = (json.loads((tmp_path / d / "phase.json").read_text()) for d in ("one", "dask"))
    a.pop("runtime"), b.pop("runtime")
    assert json.dumps(a, indent=1) == json.dumps(b, indent=1)
    for png in ("phase_diagram.png", "phase_correlation_depth.png"):
        assert (tmp_path / "one" / png).read_bytes() == (tmp_path / "dask" / png).read_bytes()
    cached = [sorted(p.name for p in (tmp_path / d / ".phase-cache").iterdir()) for d in ("one", "dask")]
    assert cached[0] == cached[1] and len(cached[0]) == len(a["cells"])


def test_all_passes_dask_to_the_experiments_with_jobs(tmp_path, monkeypatch):
    from experiments import _cli as common
    from experiments import _ledger as ledger
    from experiments import all as run_all
    calls = []
    monkeypatch.setattr(_cluster, "require_dask", lambda: None)
    monkeypatch.setattr(run_all, "supports_jobs", lambda name: name == "phase")
    monkeypatch.setattr(run_all, "run_one", lambda name, argv: calls.append((name, argv)) or (0, ""))

    def stop(*args, **kwargs):
        raise ledger.LedgerError("stop after the runs")
    monkeypatch.setattr(ledger, "build", stop)
    argv = ["--quick", "--out", str(tmp_path), "--only", "symmetry", "--only", "phase", "--dask", "tcp://h:8786"]
    assert common.run(run_all.main, "experiments.all", argv) == 2
    assert dict(calls) == {"symmetry": ["--quick", "--out", str(tmp_path)],
                           "phase": ["--quick", "--out", str(tmp_path), "--dask", "tcp://h:8786"]}


def test_all_without_dask_stops_before_the_first_experiment(tmp_path, monkeypatch, capsys):
    from experiments import _cli as common
    from experiments import all as run_all
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    monkeypatch.setattr(run_all, "run_one", lambda name, argv: pytest.fail("ran an experiment"))
    assert common.run(run_all.main, "experiments.all", ["--quick", "--out", str(tmp_path), "--dask", "h:1"]) == 2
    assert capsys.readouterr().err.startswith("experiments.all: error: --dask needs dask.distributed")
