"""experiments.symmetry: the mechanisms it claims, checked on real (bundled) MNIST, and its command line."""

import numpy as np
import pytest

from conftest import assert_cli_usage_error, assert_usage_error

from experiments import _cli as cli
from experiments import symmetry
from npnet import data as npdata
from npnet import probes


@pytest.fixture(scope="module")
def mnist():
    return npdata.load_mnist(300, 100, seed=0, source="bundled", verbose=False)


def train_small(init_name, act_label, mnist, mode="exact", dtype=np.float64, epochs=2):
    net = symmetry.build(init_name, act_label, mode, dtype, seed=0)
    before = net.get_weights()
    series = symmetry.train_run(net, mnist, mnist.X_test[:50], epochs, seed=0)
    return net, before, series


@pytest.mark.parametrize("act_label", list(symmetry.ACTIVATIONS))
@pytest.mark.parametrize("init_name", ["all_zero", "const0.01"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_mode_keeps_hidden_rows_bitwise_equal(mnist, init_name, act_label, dtype):
    net, _, series = train_small(init_name, act_label, mnist, dtype=dtype)
    W1, W2 = net.dense[0].W, net.dense[1].W
    assert W1.dtype == dtype
    assert all(np.array_equal(row, W1[0]) for row in W1)
    assert all(np.array_equal(col, W2[:, 0]) for col in W2.T)      # each unit's outgoing weights, too
    assert series["sym_fc1"] == [0.0] * 3 and series["hidden_var"] == [0.0] * 3
    assert series["distinct_units"] == [1] * 3


def test_sigmoid_all_zero_moves_w1_but_keeps_rows_equal(mnist):
    net, before, _ = train_small("all_zero", "sigmoid", mnist)
    assert not np.array_equal(net.dense[0].W, before["fc1.W"])
    assert probes.distinct_rows(net.dense[0].W) == 1
    net.forward(mnist.X_test[:10])
    assert np.all(net.outputs[0] == net.outputs[0][:, :1])


@pytest.mark.parametrize("act_label", ["tanh", "relu", "relu'(0)=1"])
def test_all_zero_tanh_relu_only_output_bias_learns(mnist, act_label):
    net, before, _ = train_small("all_zero", act_label, mnist, mode="blas")
    assert probes.changed_parameters(before, net) == ["fc2.b"]
    for name in ("fc1.W", "fc1.b", "fc2.W"):
        assert np.array_equal(net.get_weights()[name], before[name])


def test_relu_all_zero_gradient_l1_is_the_output_bias_gradient(mnist):
    g = symmetry.gradient_at_init("all_zero", "relu", mnist, np.float64, seed=0)
    assert g["zero_gradients"] == ["fc1.W", "fc1.b", "fc2.W"]
    assert g["l1_all"] == g["l1_output_bias"] > 0


@pytest.mark.parametrize("act_label, learns", [("sigmoid", True), ("tanh", True), ("relu", False),
                                               ("relu'(0)=1", True)])
def test_zero_first_layer_verdict(mnist, act_label, learns):
    net, before, series = train_small("zero_first", act_label, mnist, mode="blas")
    moved = not np.array_equal(net.dense[0].W, before["fc1.W"])
    assert moved == learns
    assert (series["distinct_units"][-1] > 1) == learns


def test_quick_run_writes_figures_and_json(quick_run):
    tmp_path, result = quick_run("symmetry", "--data", "bundled")
    assert not (tmp_path.parent / "symmetry.json").exists()   # --quick without --out writes figures/quick/ only
    for name in ("symmetry_test_accuracy.png", "symmetry_fc1.png", "symmetry_hidden_variance.png",
                 "symmetry_perturbation.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["data"]["dataset"] == "mnist" and result["data"]["source"]
    for run in result["runs"]:
        assert {"init", "activation", "mode", "dtype", "test_acc", "sym_fc1", "hidden_var",
                "distinct_units"} <= run.keys()
        assert len(run["test_acc"]) == len(run["sym_fc1"]) == len(run["hidden_var"]) == len(run["epoch"])
    exact_zero = [r for r in result["runs"] if r["mode"] == "exact" and r["init"] in ("all_zero", "const0.01")]
    assert exact_zero and all(set(r["sym_fc1"]) == {0.0} for r in exact_zero)
    assert all(check["confirmed"] for check in result["mechanisms"].values())
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv, env", [
    (["--epochs", "0"], {}), (["--epochs", "x"], {}), (["--dtype", "float16"], {}), (["--bogus"], {}),
    (["--data", "/no/such/dir"], {}), (["--seed", "-1"], {}), (["--seed", str(2**32)], {}),
    ([], {"NPNET_DATA": "bogus"}),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, argv, env, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert_usage_error("symmetry", ["--out", str(tmp_path), *argv], tmp_path, capsys)


def test_command_line_bad_argument_is_one_line_and_exit_2(tmp_path):
    assert_cli_usage_error("symmetry", ["--out", str(tmp_path), "--epochs", "0"], tmp_path)


def test_unwritable_out_directory_is_a_usage_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    assert cli.run(symmetry.main, "experiments.symmetry", ["--quick", "--out", str(tmp_path / "file")]) == 2
