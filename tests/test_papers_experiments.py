"""experiments.glorot2010 and experiments.he2015: the mechanisms their figures rest on, checked directly, and one
--quick run of each (at --jobs 1 and --jobs 2, which must agree) writing every figure and the JSON."""
import json

import numpy as np
import pytest

import npnet
from experiments import _ledger as ledger
from experiments import glorot2010, he2015
from experiments.glorot2010 import histograms
from experiments.he2015 import deep_relu, scaling


@pytest.fixture(scope="module")
def mnist():
    return npnet.data.load_mnist(100, 300, seed=0, source="bundled", subset="first", verbose=False)


def test_30_layer_xavier_first_layer_gradient_is_orders_below_he(mnist):
    X, y = mnist.X_train[:64], mnist.y_train[:64]
    xavier = deep_relu.layer_norms(deep_relu.XAVIER, 30, 256, 0, X, y)["grad_norm"]
    he = deep_relu.layer_norms(deep_relu.HE, 30, 256, 0, X, y)["grad_norm"]
    ratio = xavier[0] / he[0]
    assert ratio < 1e-3                                   # "its gradients are all diminishing": > 3 decades
    assert abs(np.log10(ratio) - np.log10(2.0 ** -14.5)) < 0.5     # mean field: 2^(−(30 − 1)/2)
    # not only the first layer: every layer's gradient is as much smaller
    assert max(x / h for x, h in zip(xavier, he)) < 1e-3


def test_normalized_init_keeps_tanh_activation_variance_within_2x_standard_does_not(mnist):
    study = histograms.histogram_study(1000, [0], mnist.X_test, mnist.y_test)
    assert study["normalized"]["activations"]["max_over_min_var"] <= 2.0
    assert study["standard"]["activations"]["max_over_min_var"] > 10.0
    # standard: activations shrink going up, back-propagated gradients shrink going down, weight gradients level
    assert study["standard"]["activations"]["top_over_bottom_var"] < 0.1
    assert study["standard"]["backprop_gradients"]["top_over_bottom_var"] > 10.0
    assert study["standard"]["weight_gradients"]["max_over_min_var"] < 1.5
    # the mean-field variances follow the measured ones layer by layer
    for init in ("standard", "normalized"):
        s = study[init]["activations"]
        np.testing.assert_allclose(s["var"]["mean"], s["predicted_var"], rtol=0.15)


def test_fan_in_keeps_forward_fan_out_keeps_backward():
    X = npnet.data.load_mnist(10, 200, seed=0, source="bundled", subset="first", verbose=False).X_test
    study = scaling.scaling_study(list(range(8)), X)
    fi, fo = study["fan_in (eq. 10)"], study["fan_out (eq. 14)"]
    # the direction each scales is kept; the other changes by the width ratio the paper's formula gives
    assert fo["backward_first_over_last"] == pytest.approx(1.0, rel=0.3)
    assert fi["backward_first_over_last"] == pytest.approx(fi["predicted_backward_first_over_last"], rel=0.3)
    # Π n̂_k/n_k over layers 1 … L−1 telescopes to n_L/n_1, the fan-ins of the last and the first layer
    assert fi["predicted_backward_first_over_last"] == pytest.approx(scaling.WIDTHS[-2] / scaling.WIDTHS[0])


@pytest.mark.parametrize("module, name", [(glorot2010, "glorot2010"), (he2015, "he2015")])
def test_quick_writes_every_figure_and_the_json_identically_at_any_jobs(module, name, tmp_path):
    results = []
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        assert module.main(["--quick", "--data", "bundled", "--jobs", jobs, "--out", str(out)]) is None
        for f in ledger.expected_files(ledger.load()["experiments"], name):
            assert (out / f).stat().st_size > 1000, f
        data = json.loads((out / f"{name}.json").read_text())
        assert data["paper"] and "bundled" in data["data"]["source"]
        data.pop("runtime")
        results.append(data)
    assert results[0] == results[1]


@pytest.mark.parametrize("module", [glorot2010, he2015])
def test_quick_and_full_exclude_each_other(module, tmp_path, capsys):
    from experiments import _cli as cli
    assert cli.run(module.main, "x", ["--quick", "--full", "--out", str(tmp_path)]) == 2
    assert "exclude" in capsys.readouterr().err
