"""experiments._common: the shared parallel map and the --jobs/--seeds options."""
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
