"""experiments.regression and full-batch MSE training with npnet.train: gradients, the symmetry mechanisms, the literal ratio, the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

import npnet
from experiments import _cli as cli
from experiments import regression
from experiments.regression import ratio_checks, students, teachers
from npnet import gradcheck


def train_full_batch(net, X, Y, optimizer, epochs):
    """The students' loop: full-batch gradient descent on the MSE; the loss before each epoch's step."""
    return npnet.train(net, X, Y, optimizer=optimizer, epochs=epochs, batch_size=None, loss="mse")["train_loss"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("regression")
    regression.main(["--quick", "--jobs", "1", "--seeds", "2", "--epochs", "40", "--draws", "30", "--out", str(out)])
    return out, json.loads((out / "regression.json").read_text())


@pytest.fixture(scope="module")
def data():
    return teachers.make_data(500, seed=0)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_regression_net_gradients_match_finite_differences(act):
    """3-10-1 with an identity output (the last Dense) and MSE on real targets, as the students train."""
    rng = np.random.default_rng(1)
    net = npnet.mlp([3, 10, 1], act, "xavier_normal", "he_normal", rng=rng)
    X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    report = gradcheck.check(net, X, Y, "mse")
    assert report.passed, report


def test_train_full_batch_records_loss_before_each_step_and_decreases(data):
    X, ys = data
    net = students.student("mlp", "xavier", seed=0)
    first = npnet.MSE().forward(net.forward(X), ys["tanh"])
    history = train_full_batch(net, X, ys["tanh"], optimizer=npnet.SGD(net, lr=0.01), epochs=30)
    assert len(history) == 30 and history[0] == first
    assert history[-1] < history[0]


def test_train_full_batch_rejects_bad_targets(data):
    X, _ = data
    net = students.student("linear", "zero", seed=0)
    with pytest.raises(ValueError, match="y must have shape"):
        train_full_batch(net, X, np.zeros((len(X), 2)), optimizer=npnet.SGD(net, lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="NaN"):
        train_full_batch(net, X, np.full(len(X), np.nan), optimizer=npnet.SGD(net, lr=0.1), epochs=1)


def train(kind, init_label, X, y, epochs=40):
    net = students.student(kind, init_label, seed=0)
    before = net.get_weights()
    lr = teachers.LR_LINEAR if kind == "linear" else teachers.LR_MLP
    train_full_batch(net, X, y, optimizer=npnet.SGD(net, lr=lr), epochs=epochs)
    return net, before, students.mechanism_checks(kind, init_label, before, net, y, lr, epochs)


def test_zero_init_changes_only_the_output_bias(data):
    X, ys = data
    net, before, check = train("mlp", "zero", X, ys["tanh"])
    after = net.get_weights()
    for name in ("fc1.W", "fc1.b", "fc2.W"):
        assert np.array_equal(after[name], before[name])
    assert not np.array_equal(after["fc2.b"], before["fc2.b"])
    assert check["confirmed"] and check["output_bias"] == pytest.approx(check["output_bias_closed_form"], rel=1e-12)


def test_zero_init_linear_student_moves_every_weight(data):
    X, ys = data
    net, before, check = train("linear", "zero", X, ys["linear"])
    assert check["confirmed"] and np.all(net.dense[0].W != 0)


def test_one_init_keeps_every_hidden_row_identical(data):
    X, ys = data
    net, before, check = train("mlp", "one", X, ys["tanh"])
    W1, W2 = net.dense[0].W, net.dense[1].W
    assert not np.array_equal(W1, before["fc1.W"])                   # it learns ...
    assert all(np.array_equal(row, W1[0]) for row in W1)              # ... as one unit copied ten times
    assert np.all(W2 == W2[0, 0]) and check["confirmed"] and check["distinct_rows"] == 1


def test_literal_mode_is_the_studys_formula_on_a_fixed_draw():
    rng = np.random.default_rng(5)
    X = teachers.make_X(200, rng)
    for copies, act, stat in ((1, "relu", "E[a²]/Var(z)"), (150, "relu", "E[a²]/Var(z)"),
                              (1000, "tanh", "Var(a)/Var(z)")):
        w = rng.normal(size=3 * copies)
        Xc = np.concatenate([X] * copies, axis=1)                      # the study's code, verbatim in NumPy
        z = w * Xc
        y = np.maximum(z, 0) if act == "relu" else (1 - np.exp(-2 * z)) / (1 + np.exp(-2 * z))
        study = ((y ** 2).mean() if stat == "E[a²]/Var(z)" else y.var()) / z.var()
        ratio, e_wx = ratio_checks.literal_ratio(X, w, act, stat, chunk=7)
        assert ratio == pytest.approx(study, rel=1e-10)
        assert e_wx == pytest.approx(Xc.mean() * w.mean(), rel=1e-10)


def test_correct_relu_ratio_pairs_to_one_under_sign_flip():
    """r(w) + r(−w) = 1 for every unit: the ½ of He's derivation holds on average for any inputs."""
    rng = np.random.default_rng(2)
    X = teachers.make_X(300, rng)
    W = rng.normal(size=(3, 50))
    r, _, _ = ratio_checks.correct_ratios(X, W, "relu")
    r_flip, _, _ = ratio_checks.correct_ratios(X, -W, "relu")
    np.testing.assert_allclose(r + r_flip, 1.0, rtol=0, atol=1e-12)
    assert r.min() < 0.2 and r.max() > 0.8                            # one unit of uncentred inputs: far from ½


def test_quick_run_writes_figures_and_json(quick_run):
    out, result = quick_run
    for name in ("regression_kde.png", "regression_inits.png", "regression_kaiming_ratios.png"):
        assert (out / name).stat().st_size > 10_000
    assert result["mechanisms_confirmed"] is True
    runs = result["runs"]
    assert {r["teacher"] for r in runs} == set(teachers.TEACHERS)
    assert len(runs) == 2 * len(teachers.TEACHERS) * (len(students.INITS) + len(students.LINEAR_INITS))
    assert all(len(r["mse"]) == result["config"]["epochs"] for r in runs)
    assert result["random_reading"]["matches"] in (students.RANDOM_LITERAL, students.RANDOM_INTENDED)
    checks = {c["name"]: c for c in result["ratio_checks"]}
    assert checks["relu, centered, 3 inputs"]["literal"] == pytest.approx(0.5, abs=0.05)
    assert checks["relu, raw, 3 inputs"]["correct"]["n"] == 30 and checks["relu, raw, 3 inputs"]["literal_draws"]["n"] == 30
    assert set(result["verdicts"]) == {"fan_in_vs_noise", "kaiming_needs_zero_mean_w_or_x",
                                       "zscore_helps_minmax_not", "xavier_needs_small_zero_mean_inputs_and_tanh"}


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.regression", "--quick", "--out", str(tmp_path),
                           "--seeds", "0"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--jobs", "x"], ["--draws", "-3"], ["--epochs", "0"]])
def test_bad_options_are_usage_errors(argv, tmp_path, capsys):
    assert cli.run(regression.main, "experiments.regression", ["--quick", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())
