"""Faults while an experiment writes its outputs (issue 16): full disk, --out removed mid-run, a directory named
like an output, Ctrl-C (also one Python swallows, and one during start-up). Each gives one stderr line and a non-zero
exit, leaves the older outputs as they were and no temporary files. The writers are experiments._outputs', which
every experiment uses; one real experiment is interrupted in a subprocess."""
import contextlib
import errno
import importlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------- command lines: bounds, paths, checks before output


def _help(name, option):
    """The --help text of ``option`` of ``experiments.<name>``, as one line of words."""
    module = importlib.import_module(f"experiments.{name}")
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as text:
        module.main(["--help"])
    entries = re.split(r"\n  (?=-)", text.getvalue().split("options:")[1])   # one entry per option
    entry = next(e for e in entries if e.startswith(option + " "))
    return " ".join(entry.split()[2:])


def _usage_error(name, argv, out, capsys, contains):
    """``experiments.<name>`` refuses ``argv`` with exit 2 and one line containing ``contains``, before creating
    ``out`` (which must not exist beforehand) or printing anything else."""
    assert not _exists(out)
    module = importlib.import_module(f"experiments.{name}")
    code = cli.run(module.main, f"experiments.{name}", argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and captured.out == "" and len(lines) == 1, captured
    assert lines[0].startswith(f"experiments.{name}: ") and contains in lines[0], lines[0]
    assert not _exists(out), f"{out} was created"
    return lines[0]


def _exists(path):
    try:
        return path.exists()
    except OSError:      # a path the file system cannot even look up
        return False


#: every count and size option: (experiment, option); --help states its upper bound as "at most N"
BOUNDED = [("symmetry", "--epochs"), ("activations", "--epochs"), ("regression", "--epochs"),
           ("regression", "--seeds"), ("depth", "--seeds"), ("training", "--seeds"), ("regression", "--draws"),
           ("phase", "--steps"), ("phase", "--depths"), ("phase", "--relu-depths"), ("bench", "--rounds"),
           ("regression", "--jobs"), ("depth", "--jobs"), ("training", "--jobs"), ("phase", "--jobs"),
           ("all", "--jobs"), ("glorot2010", "--seeds"), ("glorot2010", "--epochs"), ("glorot2010", "--jobs"),
           ("he2015", "--jobs")]


@pytest.mark.parametrize("name, option", BOUNDED)
def test_count_options_have_an_upper_bound_stated_in_help(name, option, tmp_path, capsys):
    help_text = _help(name, option)
    bound = re.search(r"at most ([\d,]+)", help_text)
    assert bound, f"{name} {option}: no upper bound in --help: {help_text!r}"
    limit = int(bound.group(1).replace(",", ""))
    for value in (limit + 1, 10**12, 10**100):
        line = _usage_error(name, [option, str(value), "--out", str(tmp_path / "out")], tmp_path / "out", capsys,
                            f"at most {limit:,}")
        assert option in line


def test_phase_lists_are_bounded_in_length(tmp_path, capsys):
    for option, many in [("--depths", ",".join(["2"] * 1000)), ("--sigma-w2", ",".join(["1"] * 1000)),
                         ("--relu-depths", ",".join(["2"] * 1000))]:
        assert "values at most" in _help("phase", option)
        _usage_error("phase", [option, many, "--out", str(tmp_path / "out")], tmp_path / "out", capsys, "values")


def test_a_seed_range_past_the_largest_seed_is_refused(tmp_path, capsys):
    _usage_error("depth", ["--seed", str(2**32 - 1), "--seeds", "2", "--out", str(tmp_path / "out")],
                 tmp_path / "out", capsys, "--seed + --seeds - 1 must be at most 4294967295")


@pytest.mark.parametrize("value", ["1,,2", "1,", ",1", ",", "1, ,2"])
def test_phase_lists_refuse_empty_items(value, tmp_path, capsys):
    for option in ("--sigma-w2", "--depths"):
        _usage_error("phase", [f"{option}={value}", "--out", str(tmp_path / "out")], tmp_path / "out", capsys,
                     "expected comma-separated")


@pytest.mark.parametrize("name", ["symmetry", "bench", "all", "phase"])
def test_a_path_part_longer_than_the_file_system_allows(name, tmp_path, capsys):
    long = tmp_path / ("x" * 300) / "out"
    _usage_error(name, ["--out", str(long)], long, capsys, "File name too long")
    if name in ("symmetry", "bench", "phase"):
        _usage_error(name, ["--data", str(long), "--out", str(tmp_path / "o")], tmp_path / "o", capsys,
                     "File name too long")
    if name == "phase":
        _usage_error(name, ["--cache", str(long), "--out", str(tmp_path / "o")], tmp_path / "o", capsys,
                     "File name too long")
    if name == "all":
        _usage_error(name, ["--report-only", "--results", str(long), "--out", str(tmp_path / "o")],
                     tmp_path / "o", capsys, "File name too long")


@pytest.mark.parametrize("bad", ["", " ", "\t"])
def test_all_refuses_an_empty_out(bad, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _usage_error("all", ["--report-only", "--out", bad], tmp_path / bad.strip() / "none", capsys,
                 "--out must be a directory path, got an empty string")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("case", ["directory", "proc", "under_a_file", "empty", "blank"])
def test_all_report_only_results_paths(case, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    results, contains = {
        "directory": (tmp_path / "dir", "is a directory"),
        "proc": (Path("/proc/no-such-process/RESULTS.md"), "--results"),
        "under_a_file": (tmp_path / "file" / "RESULTS.md", "is not a directory"),
        "empty": ("", "--results must be a file path, got an empty string"),
        "blank": (" ", "--results must be a file path, got an empty string"),
    }[case]
    out = tmp_path / "out"
    _usage_error("all", ["--report-only", "--results", str(results), "--out", str(out)], out, capsys, contains)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"] and not list((tmp_path / "dir").iterdir())


@pytest.mark.parametrize("name", ["symmetry", "phase", "depth", "bench"])
def test_a_bad_data_environment_variable_fails_before_any_output(name, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPNET_DATA", str(tmp_path / "no-such-idx-dir"))
    _usage_error(name, ["--quick", "--out", str(tmp_path / "out")], tmp_path / "out", capsys, "NPNET_DATA")


@pytest.mark.parametrize("cache", ["/proc/no-such-process/cache", "/proc/version/cache", "/dev/null"])
def test_a_bad_phase_cache_fails_before_any_output(cache, tmp_path, capsys):
    _usage_error("phase", ["--quick", "--cache", cache, "--out", str(tmp_path / "out")], tmp_path / "out", capsys,
                 "--cache")


def test_stale_staging_of_dead_processes_is_removed(out, capsys):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()                                   # a process id that no longer runs
    (out / f".staging-{dead.pid}-abcd1234").mkdir()
    (out / f".staging-{dead.pid}-abcd1234" / "a.png").write_bytes(b"half a run")
    (out / f".a.json.{dead.pid}-abcd1234.tmp").write_bytes(b"half a file")
    live = out / f".staging-{os.getpid()}-abcd1234"   # this process: a run in progress, left alone
    live.mkdir()
    code, lines = run(fake_main(), out, capsys)
    assert code == 0 and lines == []
    assert sorted(p.name for p in out.iterdir()) == sorted(["a.json", "a.png", live.name])


def test_the_staging_directory_records_the_process_id(out, capsys):
    seen = []
    code, lines = run(fake_main(lambda o: seen.extend(p.name for p in o.glob(".staging-*"))), out, capsys)
    assert code == 0 and len(seen) == 1 and seen[0].startswith(f".staging-{os.getpid()}-")


# ---------------------------------------------------------------- the phase cell cache: input from outside


def _cell(steps=2):
    from experiments.phase import grid
    settings = grid.cell_settings("tanh", 1.0, 2, steps=steps, n_train=64, n_test=32, seed=0, dtype="float64",
                                  data_source="test blobs")
    result = {"test_acc": 0.25, "train_acc": 0.5, "steps_done": steps, "final_loss": 2.25, "diverged": None}
    return grid, settings, result


BAD_RESULTS = {
    "a string": "0.9", "a list": [0.9], "empty": {}, "test_acc a word": {"test_acc": "high"},
    "test_acc 5": {"test_acc": 5.0}, "test_acc -1": {"test_acc": -1.0}, "train_acc bool": {"train_acc": True},
    "test_acc null": {"test_acc": None}, "steps_done float": {"steps_done": 2.0},
    "steps_done beyond": {"steps_done": 3}, "steps_done short, not diverged": {"steps_done": 1},
    "final_loss negative": {"final_loss": -1.0}, "final_loss a word": {"final_loss": "low"},
    "diverged a number": {"diverged": 3}, "a key missing": {"diverged": KeyError},
    "an extra key": {"note": "hand-edited"},
}


@pytest.mark.parametrize("case", BAD_RESULTS)
def test_a_bad_cached_result_is_recomputed_with_a_notice(case, tmp_path):
    grid, settings, good = _cell()
    change = BAD_RESULTS[case]
    if isinstance(change, dict) and change and all(k in good or k == "note" for k in change):
        result = {k: v for k, v in {**good, **change}.items() if v is not KeyError}
    else:
        result = change
    outputs.write_json(grid.cache_path(tmp_path, settings), {"settings": settings, "result": result})
    notices = []
    assert grid.read_cached(tmp_path, settings, notice=notices.append) is None
    name = grid.cache_path(tmp_path, settings).name
    assert len(notices) == 1 and notices[0].startswith(f"cache: {name} is not a usable cell (")
    assert notices[0].endswith("); training that cell again") and "\n" not in notices[0]


def _raw_cell(text):
    return lambda path, settings: path.write_text(text.replace("SETTINGS", json.dumps(settings)))


BAD_FILES = {
    "NaN accuracy": _raw_cell('{"settings": SETTINGS, "result": {"test_acc": NaN, "train_acc": 0.5, "steps_done": 2, '
                              '"final_loss": 1.0, "diverged": null}}'),
    "infinite loss": _raw_cell('{"settings": SETTINGS, "result": {"test_acc": 0.5, "train_acc": 0.5, '
                               '"steps_done": 2, "final_loss": Infinity, "diverged": null}}'),
    "other settings": _raw_cell('{"settings": {}, "result": {}}'),
    "a list": _raw_cell("[SETTINGS]"),
    "half written": _raw_cell('{"settings": SETTINGS, "res'),
    "not UTF-8": lambda path, settings: path.write_bytes(b'{"\xff\xfe": 1}'),
    "nested 20k deep": _raw_cell("[" * 20_000 + "]" * 20_000),
    "nested 100k deep (too large)": _raw_cell("[" * 100_000 + "]" * 100_000),
    "1 MB": _raw_cell(" " * 2**20 + "{}"),
    "a FIFO": lambda path, settings: os.mkfifo(path),           # reading it would wait for a writer forever
    "/dev/zero": lambda path, settings: path.symlink_to("/dev/zero"),   # would never end
    "a directory": lambda path, settings: path.mkdir(),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_cache_file_is_recomputed_with_a_notice(case, tmp_path):
    grid, settings, _ = _cell()
    path = grid.cache_path(tmp_path, settings)
    BAD_FILES[case](path, settings)
    notices = []
    assert grid.read_cached(tmp_path, settings, notice=notices.append) is None
    assert len(notices) == 1 and notices[0].startswith(f"cache: {path.name} is not a usable cell ("), notices


def test_a_good_cell_is_read_and_a_missing_one_is_quietly_none(tmp_path):
    grid, settings, good = _cell()
    notices = []
    assert grid.read_cached(tmp_path, settings, notice=notices.append) is None and notices == []
    outputs.write_json(grid.cache_path(tmp_path, settings), {"settings": settings, "result": good, "seconds": 1.0})
    assert grid.read_cached(tmp_path, settings, notice=notices.append) == good and notices == []
    diverged = {**good, "steps_done": 1, "final_loss": None, "diverged": "the loss overflowed"}
    outputs.write_json(grid.cache_path(tmp_path, settings), {"settings": settings, "result": diverged})
    assert grid.read_cached(tmp_path, settings, notice=notices.append) == diverged and notices == []


def test_run_cells_retrains_a_bad_cell_and_removes_stale_temporary_files(tmp_path):
    grid, settings, good = _cell()
    path = grid.cache_path(tmp_path, settings)
    outputs.write_json(path, {"settings": settings, "result": {**good, "test_acc": 5.0}})
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    stale = tmp_path / f".{path.name}.{dead.pid}-abcd1234.tmp"    # a write killed half way
    stale.write_text('{"sett')
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(64, 784)), rng.integers(0, 10, 64), rng.normal(size=(32, 784)), rng.integers(0, 10, 32))
    lines = []
    with contextlib.redirect_stdout(io.StringIO()):
        [result] = grid.run_cells([settings], data, tmp_path, 1, lines.append)
    assert 0.0 <= result["test_acc"] <= 1.0 and result["steps_done"] == 2
    assert grid.read_cached(tmp_path, settings) == result                     # the cache now holds the retrained cell
    assert not stale.exists() and "removed 1 temporary file(s) of killed runs" in lines[0]
    assert any("is not a usable cell (test_acc 5.0 is not an accuracy in [0, 1])" in line for line in lines)
