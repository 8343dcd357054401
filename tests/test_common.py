"""experiments._parallel and experiments._cli: the shared parallel map and the --jobs/--seeds options."""
import pytest

from experiments import _cli as cli, _parallel as parallel


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_map_keeps_task_order(jobs):
    assert parallel.parallel_map(abs, [-3, 1, -2, 5], jobs) == [3, 1, 2, 5]


def test_seeds_option_resolves_per_mode(tmp_path):
    p = cli.parser("x", "d", jobs=True, seeds=5, quick_seeds=2)
    args, _, _ = cli.start(p, ["--quick", "--out", str(tmp_path)])
    assert args.seeds == 2 and args.jobs >= 1
    args, _, _ = cli.start(p, ["--seeds", "7", "--jobs", "1", "--out", str(tmp_path)])
    assert args.seeds == 7 and args.jobs == 1
    with pytest.raises(cli.UsageError, match="expected an integer >= 1"):
        cli.start(p, ["--jobs", "0", "--out", str(tmp_path)])


def test_compare_band_tests():
    from experiments import _compare
    assert _compare.in_band(1.0, 1.0, 2.0) and not _compare.in_band(2.5, 1.0, 2.0)
    assert _compare.within([1.0, 3.0], [1.5, 1.5], 0.5).tolist() == [True, False]
    ours = {"mean": 0.9, "sd": 0.01}
    assert _compare.against_seeds(0.91, ours, tol=0.0)["verdict"] == "matches"      # within 2 SD
    assert _compare.against_seeds(0.95, ours, tol=0.0)["verdict"] == "published higher"
    assert _compare.against_seeds(0.85, ours, tol=0.1)["verdict"] == "matches"      # the tolerance is wider
    table = {"mean": [0.0, 0.1], "std": [1.0, 0.5]}
    ours = {"mean": [0.0, 0.1], "mean_sd": [0.01, 0.01], "std": [1.0, 0.55], "std_sd": [0.01, 0.01]}
    fit = _compare.layers_against_seeds(table, ours, k=4.0, rounding=0.0)
    assert fit["ok_mean"] and not fit["ok_std"] and not fit["match"]
    assert fit["max_abs_z_std"] == pytest.approx(5.0)
