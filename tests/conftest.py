"""Shared test settings: hypothesis without deadlines (the machines are shared and noisy), Agg plots; the
experiments' --quick runs, one per session."""
import importlib
import json
import os
import subprocess
import sys

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

settings.register_profile("npnet", deadline=None, max_examples=25, derandomize=True)   # same draws every run
settings.register_profile("explore", deadline=None, max_examples=200, derandomize=False)  # HYPOTHESIS_PROFILE=explore
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "npnet"))


@pytest.fixture(autouse=True)
def no_dask_scheduler_from_the_environment(monkeypatch):
    """A developer's $NPNET_DASK_SCHEDULER must not send the tests' runs to their cluster (tests set it themselves)."""
    monkeypatch.delenv("NPNET_DASK_SCHEDULER", raising=False)


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """``quick_run(name)`` → (output directory, parsed JSON) of ``python -m experiments.<name> --quick``.

    Each experiment's quick run is the slowest thing its tests do, so it runs once per session and every test that
    looks at its outputs shares it. It runs without --out from a fresh working directory, so the outputs land in
    the default figures/quick/ (the tests check that a quick run never writes figures/ itself).
    """
    runs = {}

    def run(name, *argv):
        if name not in runs:
            module = importlib.import_module(f"experiments.{name}")
            cwd = tmp_path_factory.mktemp(f"quick-{name}")
            previous = os.getcwd()
            os.chdir(cwd)
            try:
                assert module.main(["--quick", *argv]) is None
            finally:
                os.chdir(previous)
            out = cwd / "figures" / "quick"
            runs[name] = out, json.loads((out / f"{name}.json").read_text())
        return runs[name]

    return run



def assert_usage_error(name, argv, out, capsys):
    """``experiments.<name>.main(argv)``, run as ``python -m`` runs it, exits 2 with one stderr line, no stdout, and
    writes nothing into ``out``. In-process: an interpreter start per bad argument would cost seconds."""
    from experiments import _cli as cli
    module = importlib.import_module(f"experiments.{name}")
    code = cli.run(module.main, f"experiments.{name}", argv)
    captured = capsys.readouterr()
    _check_usage_error(name, code, captured.out, captured.err, out)


def assert_cli_usage_error(name, argv, out):
    """The same through a real ``python -m experiments.<name>`` command line (one per experiment), which also shows
    that no traceback reaches the user."""
    proc = subprocess.run([sys.executable, "-m", f"experiments.{name}", *argv], capture_output=True, text=True,
                          timeout=120)
    assert "Traceback" not in proc.stderr
    _check_usage_error(name, proc.returncode, proc.stdout, proc.stderr, out)


def _check_usage_error(name, code, stdout, stderr, out):
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith(f"experiments.{name}: error:"), stderr
    assert not out.exists() or not list(out.iterdir())
