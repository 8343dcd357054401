"""experiments.training: the published training studies. One shared --quick run (subprocess, --jobs 2) feeds most
tests; the mechanisms the verdicts rest on are also checked directly on small real (bundled) MNIST runs."""
import json
import subprocess
import sys

import numpy as np
import pytest

import npnet
from experiments import _cli as cli, _parallel as parallel
from experiments import training
from experiments.training import init_bench, lecture
from experiments.training import runs as training_runs

FIGURES = ("compare_train_loss.png", "compare_test_accuracy.png", "lecture_inits.png", "allzero_escape.png")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("training_quick")
    proc = subprocess.run([sys.executable, "-m", "experiments.training", "--quick", "--jobs", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "training.json").read_text()), proc.stderr


def runs(result, study, variant, **match):
    found = [r for r in result["runs"] if r["study"] == study and r["variant"] == variant
             and all(r[k] == v for k, v in match.items())]
    assert found
    return found


def test_quick_writes_every_figure_and_the_json(quick):
    out, result, stderr = quick
    for name in FIGURES:
        assert (out / name).stat().st_size > 10_000
    assert not list(out.glob(".*.tmp"))
    assert set(result["studies"]) == set(training.STUDIES)
    # one progress line per run, and the total time
    assert stderr.count("] [") == len(result["runs"]) and "total" in stderr
    for r in result["runs"]:
        assert {"study", "variant", "seed", "activation", "optimizer", "lr", "batch_size"} <= set(r)
        assert r["init"]["formula"] and r["init"]["weights"]
        assert "unshuffled" in r["data"]["carve"]       # the studies' fixed carve, said in every record
        n = r["epochs"]
        assert r["diverged"] is None
        assert len(r["train_loss"]) == len(r["test_loss"]) == len(r["test_acc"]) == n
    for study in ("init-bench", "lecture"):
        assert "first" in result["data"][study]["source"]
        assert result["studies"][study]["verdicts"]


def test_he_beats_std001_in_the_quick_run(quick):
    _, result, _ = quick
    he = runs(result, "init-bench", "he", batch_size=init_bench.BENCH["batch"])
    small = runs(result, "init-bench", "std0.01", batch_size=init_bench.BENCH["batch"])
    assert max(r["test_loss"][-1] for r in he) < min(r["test_loss"][-1] for r in small)
    assert min(r["test_acc"][-1] for r in he) > max(r["test_acc"][-1] for r in small)
    # std 0.01 predicts one class: its accuracy is exactly that class's share of the test set
    shares = result["studies"]["init-bench"]["std0.01_one_class"]["our_test_class_shares"]
    assert all(acc in shares for r in small for acc in r["test_acc"])


def test_quick_lecture_records_match_the_mechanisms(quick):
    _, result, _ = quick
    for variant in ("zero_first", "zero_first_sgd"):
        for r in runs(result, "lecture", variant):
            assert "fc1.W" not in r["nonzero_params"] and "fc1.b" not in r["nonzero_params"]
    for r in runs(result, "lecture", "all_zero"):
        assert r["nonzero_params"] == ["fc3.b"]          # "only zeros in the final weights" misses the output bias
    for r in runs(result, "lecture", "all_ones"):
        assert all(rows == [1, 1] for rows in r["distinct_rows"])


def test_the_added_runs_step_matched_lecture_and_the_fitting_batch(quick):
    """Additions for the ledger: the lecture's 9,380 Adam steps matched on the offline split (75 epochs of 8,000),
    and batch 50 for the all-zero net; the original variants and candidates are unchanged around them."""
    _, result, _ = quick
    assert training.LECTURE_STUDY_STEPS == 9380 and training.step_matched_epochs(8000) == 75
    lecture, allzero = result["studies"]["lecture"], result["studies"]["allzero"]
    for name, base in training.LECTURE_STEP_MATCHED.items():
        assert name in lecture["final_test_acc"] and base in lecture["final_test_acc"]
        assert runs(result, "lecture", name)[0]["init"]["formula"].startswith(
            runs(result, "lecture", base)[0]["init"]["formula"])
    assert [v["variant"] for v in lecture["verdicts"] if v["variant"].startswith("all_ones")] == \
        ["all_ones", "all_ones_blas_f32", "all_ones_blas_f32_steps"]
    zero = next(v for v in lecture["verdicts"] if v["variant"] == "all_zero")
    assert zero["nonzero_weights_after_training"] == []
    assert "batch50" in allzero["candidates"] and allzero["candidates"]["batch50"]["batch_size"] == 50
    assert allzero["candidates"]["batch50"]["study_step_epoch5_on_10000_images"] == 1000
    assert len(allzero["explanations"]["batch_size_and_epochs"]["steps_to_reach_published"]) == \
        len(training.ALLZERO_BATCHES)                    # the sweep's summaries keep their own batches


def lecture_net(variant, steps, optimizer=None):
    """Train a lecture variant for ``steps`` steps on 320 real MNIST images: (network, its initial weights)."""
    t = next(t for t in lecture.lecture_tasks({"source": "bundled", "n_train": 320, "n_test": 50, "normalize": True},
                                               "test", [0], 1) if t["variant"] == variant)
    X, y, _, _ = training_runs.load_data(**t["data"])
    net = training_runs.build(t)
    before = net.get_weights()
    opt = npnet.Adam(net, lr=1e-3) if (optimizer or t["optimizer"]) == "adam" else npnet.SGD(net, lr=0.01)
    npnet.train(net, X, y, optimizer=opt, epochs=steps * 64 // 320, batch_size=64, rng=np.random.default_rng(1),
                eval_train=False)
    return net, before


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_zero_first_layer_relu_keeps_w1_b1_exactly_zero(optimizer):
    net, before = lecture_net("zero_first", 10, optimizer)
    assert np.array_equal(net.dense[0].W, np.zeros_like(net.dense[0].W))
    assert np.array_equal(net.dense[0].b, np.zeros_like(net.dense[0].b))
    assert not np.array_equal(net.dense[2].b, before["fc3.b"])      # while the output layer does train


def test_all_ones_keeps_every_hidden_row_equal():
    net, _ = lecture_net("all_ones", 10)
    for layer in net.dense[:-1]:
        assert not np.array_equal(layer.W, np.ones_like(layer.W))     # the weights moved …
        assert all(np.array_equal(row, layer.W[0]) for row in layer.W)    # … but every unit stayed a copy
        assert np.all(layer.b == layer.b[0])


def test_jobs_2_equals_jobs_1_byte_for_byte(quick, tmp_path):
    _, result2, _ = quick
    training.main(["--quick", "--jobs", "1", "--out", str(tmp_path)])
    result1 = json.loads((tmp_path / "training.json").read_text())
    assert result1["timing"]["jobs"] == 1 and result2["timing"]["jobs"] == 2
    for r in (result1, result2):
        del r["timing"]
    assert json.dumps(result1, indent=1) == json.dumps(result2, indent=1)


def test_a_diverging_run_is_recorded_and_the_others_go_on():
    data = {"source": "bundled", "n_train": 200, "n_test": 50, "normalize": False}
    kw = dict(sizes=[784, 20, 10], bias="zeros", activation="relu", optimizer="sgd", lr=0.1, batch=100, epochs=2,
              data=data, carve="test", formula="test")
    tasks = [training_runs.task("t", "blows_up", 0, init=("normal", {"std": 1e200}), **kw),
             training_runs.task("t", "fine", 0, init="he_normal", **kw)]
    (bad, _), (good, _) = parallel.parallel_map(training_runs.run_one, tasks, 1)
    assert bad["diverged"]["epoch"] == 1 and bad["diverged"]["step"] == 1
    assert "epoch 1, step 1" in bad["diverged"]["message"] and bad["test_acc"] == []
    assert good["diverged"] is None and len(good["test_acc"]) == 2


def test_parallel_map_reports_each_result_in_order():
    seen = []
    assert parallel.parallel_map(abs, [-3, 1, -2], 2, on_result=lambda i, r: seen.append((i, r))) == [3, 1, 2]
    assert seen == [(0, 3), (1, 1), (2, 2)]


@pytest.mark.parametrize("argv, message", [
    (["--study", "nope"], "invalid choice"),
    (["--seeds", "0"], "expected an integer >= 1"),
    (["--jobs", "x"], "expected an integer >= 1"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert cli.run(training.main, "experiments.training", ["--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("experiments.training: error:")
    assert not list(tmp_path.iterdir())
