"""experiments.bench runs and writes its outputs (its numbers are measured, never asserted: no timing tests)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import npnet

from experiments import bench


def test_quick_bench_writes_json_and_figure(tmp_path):
    assert bench.main(["--quick", "--rounds", "1", "--out", str(tmp_path), "--data", "bundled"]) is None
    result = json.loads((tmp_path / "bench.json").read_text())
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("gemm_floor_float64", "npnet_blas_float64", "npnet_exact_float64", "sklearn_float64",
                 "gemm_floor_float32", "npnet_blas_float32"):
        assert result["median_seconds"][name] > 0
    assert {r["target"] for r in result["ratios"]} >= {t[0] for t in bench.TARGETS if "torch" not in t[1]
                                                        and "torch" not in t[2]}
    assert set(result["peak_memory_bytes_per_epoch"]) == {"float64", "float32"}
    assert result["scaling"] and result["blas"]
    assert result["config"]["quick"] is True and result["config"]["sizes"] == bench.SIZES


def test_gemm_floor_does_the_products_of_a_training_step():
    assert bench.gemm_floor_epoch(200, np.float64, 0) > 0
    assert bench.gemm_floor_epoch(200, np.float32, 0, X=np.zeros((200, 784), np.float32)) > 0


def test_bad_argument_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--rounds", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_minimal_numpy_loop_trains_exactly_like_npnet(dtype):
    # the bench's "best a NumPy loop can do" reference must be the same computation, not a cheaper strawman
    rng = np.random.default_rng(5)
    X, y = rng.random((300, 784)).astype(dtype), rng.integers(0, 10, 300)
    _, weights = bench.minimal_numpy_epoch(X, y, dtype, 7, return_weights=True)
    rng = np.random.default_rng(7)
    net = npnet.mlp(bench.SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=bench.LR), epochs=1, batch_size=bench.BATCH, rng=rng,
                eval_train=False)
    ours = [p.value for p in net.parameters()]
    assert len(weights) == len(ours)
    for mine, theirs in zip(weights, ours):
        assert mine.dtype == dtype
        np.testing.assert_array_equal(mine, theirs)


def test_floor_with_gather_and_update_runs():
    X = np.zeros((200, 784), np.float64)
    assert bench.gemm_floor_epoch(200, np.float64, 0, X=X, update=True) > 0
