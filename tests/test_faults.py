"""Faults while an experiment writes its outputs (issue 16): full disk, --out removed mid-run, a directory named
like an output, Ctrl-C (also one Python swallows, and one during start-up). Each gives one stderr line and a non-zero
exit, leaves the older outputs as they were and no temporary files. The writers are experiments._outputs', which
every experiment uses; one real experiment is interrupted in a subprocess."""
import errno
import json
import os
import signal
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from experiments import _cli as cli, _outputs as outputs

ROOT = Path(__file__).resolve().parents[1]
OLD = {"a.png": b"old png", "a.json": b'{"old": true}'}


def fake_main(hook=lambda out: None):
    """An experiment in miniature: a figure, then ``hook(out)``, then the JSON — through the shared writers."""
    def main(argv):
        args, out, progress = cli.start(cli.parser("x", "d", data=False, dtype=False), argv)
        fig, ax = outputs.plt.subplots(figsize=(1, 1))
        outputs.save_figure(fig, out / "a.png")
        hook(out)
        progress("half way")
        outputs.write_json(out / "a.json", {"x": 1})
    return main


@pytest.fixture
def out(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name, content in OLD.items():
        (out / name).write_bytes(content)
    return out


def run(main, out, capsys):
    code = cli.run(main, "experiments.x", ["--out", str(out)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Exception ignored" not in captured.err
    lines = [line for line in captured.err.splitlines() if not line.startswith("[")]   # progress lines aside
    return code, lines


def assert_untouched(out):
    assert sorted(p.name for p in out.iterdir()) == sorted(OLD), list(out.iterdir())   # no .tmp, no staging
    assert all((out / name).read_bytes() == content for name, content in OLD.items())


def test_a_finished_run_replaces_the_set_and_records_blas_threads(out, capsys):
    code, lines = run(fake_main(), out, capsys)
    assert code == 0 and lines == []
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "a.png"]
    result = json.loads((out / "a.json").read_text())
    assert result["x"] == 1 and result["runtime"]["blas_threads"] >= 1
    assert (out / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_two_output_directories_in_one_run_are_one_set(out, tmp_path, capsys):
    second = tmp_path / "second"

    def main(argv):
        fake_main()(argv)
        fake_main()(["--out", str(second)])
    code, lines = run(main, out, capsys)
    assert code == 0 and sorted(p.name for p in second.iterdir()) == sorted(p.name for p in out.iterdir())
    assert not list(out.glob(".*")) and not list(second.glob(".*"))


def test_a_run_inside_a_run_has_its_own_set(out, tmp_path, capsys):
    inner = tmp_path / "inner"

    def main(argv):
        fake_main()(argv)
        assert cli.run(fake_main(), "experiments.inner", ["--out", str(inner)]) == 0
        assert sorted(p.name for p in inner.iterdir()) == ["a.json", "a.png"]   # committed when the inner run ends
        assert (out / "a.json").read_bytes() == OLD["a.json"]                    # the outer set not yet
    code, lines = run(main, out, capsys)
    assert code == 0 and json.loads((out / "a.json").read_text())["x"] == 1 and not list(out.glob(".*"))


def test_every_experiment_json_records_blas_threads(quick_run):
    runtime = quick_run("symmetry")[1]["runtime"]
    assert runtime["blas_threads"] >= 1 and runtime["blas_threads_per_parallel_task"] == 1


def test_hidden_working_state_survives_an_interrupt(out, capsys):
    def cache_then_ctrl_c(out):
        outputs.write_json(out / ".cache" / "cell1.json", {"done": 1})   # e.g. a finished cell of a resumable run
        raise KeyboardInterrupt
    code, lines = run(fake_main(cache_then_ctrl_c), out, capsys)
    assert code == 130 and json.loads((out / ".cache" / "cell1.json").read_text())["done"] == 1
    assert (out / "a.png").read_bytes() == OLD["a.png"] and not list(out.glob(".staging-*"))


def test_full_disk(out, capsys, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(outputs.json, "dump", no_space)
    code, lines = run(fake_main(), out, capsys)
    assert code == 1 and len(lines) == 1 and lines[0].endswith("a.json: No space left on device"), lines
    assert_untouched(out)


def test_full_disk_inside_matplotlib(out, capsys, monkeypatch):
    def savefig(self, *args, **kwargs):   # a library error with the OSError as its cause, as matplotlib raises
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("failed to write the PNG") from exc
    monkeypatch.setattr(outputs.plt.Figure, "savefig", savefig)
    code, lines = run(fake_main(), out, capsys)
    assert code == 1 and lines == [f"experiments.x: error: cannot write {out / 'a.png'}: No space left on device"]
    assert_untouched(out)


def test_out_removed_mid_run(out, capsys):
    import shutil
    code, lines = run(fake_main(lambda o: shutil.rmtree(o)), out, capsys)
    assert code == 1 and len(lines) == 1 and "was removed during the run; nothing was written" in lines[0]
    assert not out.exists()


def test_a_directory_named_like_an_output(out, capsys):
    (out / "a.json").unlink()
    (out / "a.json").mkdir()
    code, lines = run(fake_main(), out, capsys)
    assert code == 1 and lines == [f"experiments.x: error: cannot write {out / 'a.json'}: "
                                   "a directory of that name is in the way"]
    assert (out / "a.png").read_bytes() == OLD["a.png"] and (out / "a.json").is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "a.png"]


def test_interrupt_keeps_the_older_outputs(out, capsys):
    def ctrl_c(out):
        raise KeyboardInterrupt
    code, lines = run(fake_main(ctrl_c), out, capsys)
    assert code == 130 and lines == [f"experiments.x: interrupted; no outputs were written; {out} keeps its "
                                     "previous files"]
    assert_untouched(out)


def test_an_interrupt_python_swallows_still_stops_the_run(out, capsys):
    class Thing:
        pass

    def ctrl_c_in_a_weakref_callback(out):
        thing = Thing()
        ref = weakref.ref(thing, lambda r: os.kill(os.getpid(), signal.SIGINT))   # noqa: F841
        del thing   # the callback runs; the KeyboardInterrupt raised inside it is printed and ignored by Python

    previous = signal.getsignal(signal.SIGINT)
    code, lines = run(fake_main(ctrl_c_in_a_weakref_callback), out, capsys)
    assert code == 130 and lines[-1].startswith("experiments.x: interrupted; no outputs were written")
    assert_untouched(out)
    assert signal.getsignal(signal.SIGINT) is previous   # run put the handler back


@pytest.mark.parametrize("bad, message", [("", "--out must be a directory path, got an empty string")])
def test_empty_out_is_rejected(bad, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.run(fake_main(), "experiments.x", ["--out", bad]) == 2
    assert message in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_tilde_in_out_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    args, out, _ = cli.start(cli.parser("x", "d", data=False, dtype=False), ["--out", "~/x"])
    assert out == tmp_path / "x" and out.is_dir() and not (tmp_path / "~").exists()


# ---------------------------------------------------------------- real Ctrl-C, in a subprocess


def _start(argv, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, **kwargs)


def test_ctrl_c_mid_run_of_a_real_experiment(out):
    proc = _start(["-m", "experiments.symmetry", "--quick", "--data", "bundled", "--out", str(out)])
    err = []
    for line in proc.stderr:            # wait until it trains
        err.append(line)
        if "runs of" in line:
            proc.send_signal(signal.SIGINT)
            break
    err += proc.stderr.readlines()
    assert proc.wait(timeout=60) == 130
    text = "".join(err)
    assert "Traceback" not in text and "Exception ignored" not in text
    assert err[-1].startswith("experiments.symmetry: interrupted; no outputs were written"), text
    assert_untouched(out)


def test_ctrl_c_during_start_up(tmp_path):
    # -X importtime reports each import as it finishes: send Ctrl-C once the experiments package is in (the handler
    # is installed), while NumPy, npnet and matplotlib are still loading
    proc = _start(["-X", "importtime", "-m", "experiments.symmetry", "--quick", "--out", str(tmp_path / "o")])
    err = []
    for line in proc.stderr:
        err.append(line)
        if line.rstrip().endswith("| experiments"):
            proc.send_signal(signal.SIGINT)
            break
    err += proc.stderr.readlines()
    assert proc.wait(timeout=60) == 130
    lines = [line for line in err if not line.startswith("import time:")]
    assert "Traceback" not in "".join(lines)
    assert lines[-1].startswith("experiments.symmetry: interrupted"), lines
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
