"""experiments.bench runs and writes its outputs (its numbers are measured, never asserted: no timing tests)."""
import json
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import npnet

from experiments import bench
from experiments.bench import floor


def test_quick_bench_writes_json_and_figure(tmp_path):
    assert bench.main(["--quick", "--rounds", "1", "--out", str(tmp_path), "--data", "bundled"]) is None
    result = json.loads((tmp_path / "bench.json").read_text())
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("gemm_floor_float64", "gemm_floor_scipy_float64", "npnet_blas_float64", "npnet_exact_float64",
                 "sklearn_float64", "gemm_floor_float32", "npnet_blas_float32",
                 *(f"{loop}_float32" for loop in bench.LOOPS)):
        assert result["median_seconds"][name] > 0
    assert {r["target"] for r in result["ratios"]} >= {t[0] for t in bench.TARGETS if "torch" not in t[1]
                                                        and "torch" not in t[2]}
    assert set(result["peak_memory_bytes_per_epoch"]) == {"float64", "float32"}
    assert result["scaling"] and result["blas"] and "OPENBLAS_CORETYPE" in result["blas_environment"]
    assert not any("fused" in name for name in result["median_seconds"])        # npnet has no fused step
    for target, among in (("npnet / fastest hand-written loop (SciPy's included), float64", bench.LOOPS),
                          ("npnet / fastest NumPy-only hand-written loop, float64 ≤ 1.05", bench.NUMPY_LOOPS)):
        row = next(r for r in result["ratios"] if r["target"] == target)
        assert row["numerator"] == "npnet_blas_float64"
        assert row["denominator"] == min((f"{loop}_float64" for loop in among), key=result["median_seconds"].get)
    budget = {r["target"]: r for r in result["ratios"] if r["target"].startswith("npnet / GEMM floor")}
    assert {r["bound"] for r in budget.values()} == {1.35, 1.51}
    assert result["config"]["quick"] is True and result["config"]["sizes"] == bench.SIZES


def test_gemm_floor_does_the_products_of_a_training_step():
    assert bench.gemm_floor_epoch(200, np.float64, 0) > 0
    assert bench.gemm_floor_epoch(200, np.float32, 0, library="scipy") > 0
    rng = np.random.default_rng(0)
    A, W, D = rng.random((100, 784)), rng.random((100, 784)), rng.random((100, 100))
    for library in ("numpy", "scipy"):
        forward, weight_grad, input_grad = floor._products(library, np.float64)
        Z, dW, dX = np.empty((100, 100)), np.empty((100, 784)), np.empty((100, 784))
        forward(A, W, Z), weight_grad(D, A, dW), input_grad(D, W, dX)
        for got, want in ((Z, A @ W.T), (dW, D.T @ A), (dX, D @ W)):
            np.testing.assert_allclose(got, want, rtol=1e-12)
    assert bench.gemm_floor_epoch(200, np.float32, 0, X=np.zeros((200, 784), np.float32)) > 0


def test_bad_argument_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--rounds", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _npnet_weights(X, y, dtype):
    rng = np.random.default_rng(7)
    net = npnet.mlp(bench.SIZES, "relu", "he_normal", rng=rng, dtype=dtype)
    npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=bench.LR), epochs=1, batch_size=bench.BATCH, rng=rng,
                eval_train=False)
    return [p.value for p in net.parameters()]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hand_written_loops_train_like_npnet(dtype):
    # the bench's references must be the same computation as npnet, not cheaper strawmen
    rng = np.random.default_rng(5)
    X, y = rng.random((300, 784)).astype(dtype), rng.integers(0, 10, 300)
    with threadpool_limits(1):   # NumPy's and SciPy's BLAS alternate here: spare the test their pools' fight
        plain = _npnet_weights(X, y, dtype)
        loops = (bench.minimal_numpy_epoch, bench.optimised_numpy_epoch, bench.scipy_flat_epoch,
                 bench.scipy_objects_epoch)
        results = {loop: loop(X, y, dtype, 7, return_weights=True)[1] for loop in loops}
    for loop, weights in results.items():
        assert len(weights) == len(plain)
        for mine, theirs in zip(weights, plain):
            assert mine.dtype == dtype
            if loop is bench.minimal_numpy_epoch:      # npnet's default arithmetic, NumPy's BLAS: bitwise
                np.testing.assert_array_equal(mine, theirs)
            else:                                      # lr folded into δ, or SciPy's BLAS: equal up to rounding
                np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-12 if dtype == np.float64 else 1e-5)


def test_floor_with_gather_and_update_runs():
    X = np.zeros((200, 784), np.float64)
    assert bench.gemm_floor_epoch(200, np.float64, 0, X=X, update=True) > 0
