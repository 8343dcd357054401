"""experiments.all and the claims ledger: every expected file, one row per claim, loud failures, every verdict rule."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from experiments import _cli as cli
from experiments import _ledger as ledger
from experiments import all as run_all

ROOT = Path(__file__).resolve().parents[1]
#: the experiments whose --quick runs the fixture makes (a few seconds together); the whole quick list runs in the
#: slow test below, and every listed experiment's catalog entry is checked without running it
FAST = ["symmetry", "gradients"]


def table_rows(text):
    """[(id, cells)] of every ledger row in a RESULTS.md text."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append((cells[0].strip("`"), cells))
    return rows


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One `experiments.all --quick` run of FAST into a temporary directory."""
    out = tmp_path_factory.mktemp("all_quick")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NPNET_DATA", "bundled")   # no network attempt
        argv = ["--quick", "--out", str(out)] + [a for n in FAST for a in ("--only", n)]
        assert cli.run(run_all.main, "experiments.all", argv) == 0
    return out


def check_quick_run(out, names):
    """Every expected file of ``names`` is in ``out``; RESULTS.md has one row per claim, each npnet cell filled."""
    catalog, claims = ledger.load()["experiments"], ledger.load()["claim"]
    for name in names:
        for f in ledger.expected_files(catalog, name):
            assert (out / f).stat().st_size > 0, f"{name} did not write {f}"
    reported = {c["id"] for c in claims if c["experiment"] in names or not ledger.module_exists(c["experiment"])}
    rows = table_rows((out / "RESULTS.md").read_text(encoding="utf-8"))
    assert sorted(i for i, _ in rows) == sorted(reported)
    for cid, cells in rows:
        assert cells[4], f"empty npnet cell in row {cid}"
        assert cells[5].strip("*") in ledger.VERDICTS


def test_quick_run_writes_every_expected_file_and_one_row_per_claim(quick):
    check_quick_run(quick, FAST)


@pytest.mark.slow
def test_the_whole_quick_list(tmp_path, monkeypatch):
    monkeypatch.setenv("NPNET_DATA", "bundled")
    assert cli.run(run_all.main, "experiments.all", ["--quick", "--out", str(tmp_path)]) == 0
    check_quick_run(tmp_path, [n for n in run_all.EXPERIMENTS if n not in run_all.NOT_QUICK])


def test_results_md_links_every_figure_of_the_run(quick):
    text = (quick / "RESULTS.md").read_text(encoding="utf-8")
    catalog = ledger.load()["experiments"]
    for name in FAST:
        for fig in catalog[name]["figures"]:
            assert f"]({fig})" in text      # RESULTS.md sits beside the figures it links


def test_committed_results_md_is_what_the_committed_json_gives():
    """docs/RESULTS.md is regenerated from figures/*.json: `python -m experiments.all --report-only`."""
    book = ledger.build(ROOT / "figures", run_all.EXPERIMENTS)
    text = ledger.render(book, run_all.DEFAULT_RESULTS, ROOT / "figures")
    assert (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8") == text, \
        "docs/RESULTS.md is stale: run python -m experiments.all --report-only"
    rows = table_rows(text)
    assert sorted(i for i, _ in rows) == sorted(c["id"] for c in ledger.load()["claim"])
    assert all(cells[4] for _, cells in rows)


def test_every_listed_experiment_has_a_catalog_entry_and_the_quick_list_is_declared():
    catalog = ledger.load()["experiments"]
    for name in run_all.EXPERIMENTS:
        assert catalog[name]["figures"] and catalog[name]["sentence"]
        assert ledger.module_exists(name)
    assert set(FAST) <= set(run_all.EXPERIMENTS) - set(run_all.NOT_QUICK)
    assert set(run_all.NOT_QUICK) <= set(run_all.EXPERIMENTS)
    run_all.check_catalog(run_all.EXPERIMENTS)


def test_readme_catalog_names_every_experiment_with_a_figure_and_links_results():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/RESULTS.md" in readme
    catalog = ledger.load()["experiments"]
    for name in run_all.EXPERIMENTS:
        assert f"experiments.{name}" in readme
        assert any(f"figures/{f}" in readme for f in catalog[name]["figures"]), name
    for target in re.findall(r'src="([^"]+)"', readme):
        assert (ROOT / target).exists(), f"README shows missing {target}"


# --------------------------------------------------------------------------------------------- loud failures

SMALL_JSON = {
    "runs": [{"init": "zero", "acc": [0.1, 0.12]}, {"init": "N(0, 0.01²)", "acc": [0.2, 0.9]}],
    "checks": {"a.b": {"ok": True}, "ratio": 0.5, "seeds": [0.84, 0.88, 0.86]},
}


def write_claims(path, rows, experiments=("small",), findings=()):
    text = '[studies.init-bench]\ntitle = "t"\nclaims = 1\n\n'
    text += "".join(f'[experiments.{e}]\ntitle = "t"\nsentence = "s"\nfigures = []\n\n' for e in experiments)
    for f in findings:
        text += "[[finding]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in f.items()) + "\n"
    for row in rows:
        text += "[[claim]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in row.items()) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def claim(**fields):
    base = {"id": "c1", "study": "init-bench", "experiment": "small", "claim": "x", "published": 0.9,
            "ours": "runs[init=\"N(0, 0.01²)\"].acc[-1]", "rule": "abs", "tol": 0.05, "counterfactual": 0.5,
            "counterfactual_means": "far off"}
    return {**base, **fields}


@pytest.fixture
def small(tmp_path):
    (tmp_path / "small.json").write_text(json.dumps(SMALL_JSON), encoding="utf-8")
    return tmp_path


def build(small, rows, exists=lambda name: name == "small", experiments=("small",), findings=()):
    path = write_claims(small / "claims.toml", rows, experiments=experiments, findings=findings)
    return ledger.build(small, [e for e in experiments if exists(e)], claims_path=path, exists=exists)


def test_a_claim_whose_key_is_missing_fails_loudly_naming_the_row(small):
    with pytest.raises(ledger.LedgerError, match=r"claim c1 .*no key 'acc_final'"):
        build(small, [claim(ours="runs[init=zero].acc_final")])
    with pytest.raises(ledger.LedgerError, match=r"claim c1 .*matches 0 of 2"):
        build(small, [claim(ours="runs[init=ones].acc[-1]")])
    with pytest.raises(ledger.LedgerError, match=r"no element \[5\]"):
        build(small, [claim(ours="runs[0].acc[5]")])


def test_the_cli_reports_a_missing_key_as_one_line_and_exit_2(small, monkeypatch, capsys):
    monkeypatch.setattr(ledger, "CLAIMS", write_claims(
        small / "claims.toml", [claim(experiment="symmetry", ours="runs[init=nope].test_acc[-1]")],
        experiments=("symmetry",)))
    (small / "symmetry.json").write_text(json.dumps({"runs": []}), encoding="utf-8")
    code = cli.run(run_all.main, "experiments.all", ["--report-only", "--only", "symmetry", "--out", str(small)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("experiments.all: error: claim c1") and "matches 0" in err


def test_a_failing_experiment_stops_the_run_with_its_message(tmp_path, monkeypatch, capsys):
    from npnet.data import write_idx
    tiny = tmp_path / "idx"                  # a valid data source with too few images: symmetry fails when it loads
    tiny.mkdir()
    write_idx(tiny / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    write_idx(tiny / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    monkeypatch.setenv("NPNET_DATA", str(tiny))
    code = cli.run(run_all.main, "experiments.all", ["--quick", "--only", "symmetry", "--only", "gradients",
                                                     "--out", str(tmp_path)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[-1].startswith("experiments.all: error: experiments.symmetry failed (exit 2)"), err[-1]


def test_a_bad_data_variable_stops_all_before_any_experiment_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPNET_DATA", str(tmp_path / "no-such-dir"))
    code = cli.run(run_all.main, "experiments.all", ["--quick", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("experiments.all: error: $NPNET_DATA: unknown MNIST")
    assert not (tmp_path / "out").exists()
    assert not any("gradients" in line for line in err)   # stopped at the first failure
    assert not (tmp_path / "RESULTS.md").exists()


def test_rows_of_an_unmerged_experiment_are_pending_and_need_a_key_once_it_exists(small):
    rows = [claim(), claim(id="c2", experiment="later", ours="")]
    book = build(small, rows, experiments=("small", "later"))
    pending = [r for r in book.rows if r.claim["id"] == "c2"][0]
    assert pending.verdict == ledger.PENDING and pending.ours_text == "pending: later not merged yet"
    assert book.needing_keys() == {"later": ["c2"]}
    assert book.counts()[ledger.REPRODUCED] == 1
    (small / "later.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ledger.LedgerError, match=r"claim c2: experiments/later.py exist\(s\) now, so 1 row\(s\) need a key path .*: c2$"):
        build(small, rows, exists=lambda name: True, experiments=("small", "later"))


@pytest.mark.parametrize("row, message", [
    (claim(rule="nope"), "unknown rule 'nope'"),
    (claim(rule="not_comparable"), "needs a note"),
    (claim(rule="band"), "needs 'band'"),
    (claim(colour="red"), "unknown field"),
    (claim(study="elsewhere"), "unknown study"),
    (claim(experiment="ghost"), r"no \[experiments.ghost\]"),
])
def test_the_claims_file_is_validated(small, row, message):
    with pytest.raises(ledger.LedgerError, match=message):
        build(small, [row])


def test_duplicate_ids_are_rejected(small):
    with pytest.raises(ledger.LedgerError, match="appears twice"):
        build(small, [claim(), claim()])


def test_a_missing_json_or_figure_fails_loudly(small):
    (small / "small.json").unlink()
    with pytest.raises(ledger.LedgerError, match=r"small.json is missing: run python -m experiments.small"):
        build(small, [claim()])


# --------------------------------------------------------------------------------------------- key paths

@pytest.mark.parametrize("path, value", [
    ("runs[0].init", "zero"),
    ("runs[-1].acc[1]", 0.9),
    ('runs[init="N(0, 0.01²)"].acc[0]', 0.2),
    ('checks."a.b".ok', True),
    ("checks.seeds", [0.84, 0.88, 0.86]),
    ("runs[init=zero].acc[-1] / checks.ratio", 0.24),
    ('runs[init="N(0, 0.01²)"].acc[1] - runs[init=zero].acc[1]', 0.9 - 0.12),
])
def test_key_paths(path, value):
    assert ledger.lookup(SMALL_JSON, path) == pytest.approx(value)


@pytest.mark.parametrize("path, message", [
    ("runs[init=zero", "bad key path"),
    ("runs.init", "not a dict"),
    ("checks[0]", "no element"),
    ("checks.ratio / runs[0].init", "not a number"),
])
def test_bad_key_paths_say_where(path, message):
    with pytest.raises(ledger.LedgerError, match=re.escape(message)):
        ledger.lookup(SMALL_JSON, path)


# --------------------------------------------------------------------------------------------- verdict rules

R, S, F, N = ledger.REPRODUCED, ledger.SAME_DIRECTION, ledger.REFUTED, ledger.NOT_COMPARABLE


@pytest.mark.parametrize("fields, ours, band, expected", [
    # abs: within tol; outside but same side of the baseline; outside on the other side; no baseline
    (dict(rule="abs", published=0.86, tol=0.05), 0.84, None, R),
    (dict(rule="abs", published=0.86, tol=0.05, baseline=0.13), 0.73, None, S),
    (dict(rule="abs", published=0.245, tol=0.03, baseline=0.13), 0.123, None, F),
    (dict(rule="abs", published=0.86, tol=0.05), 0.73, None, F),
    # rel
    (dict(rule="rel", published=0.049, tol=0.25, baseline=1.0), 0.038, None, R),
    (dict(rule="rel", published=0.36, tol=0.25, baseline=1.0), 0.59, None, S),
    (dict(rule="rel", published=1.08, tol=0.25, baseline=1.0), 0.038, None, F),
    # decades (ours exactly 0 has no order of magnitude)
    (dict(rule="decades", published=0.1, tol=0.5), 0.196, None, R),
    (dict(rule="decades", published=1e-6, tol=1.0, baseline=1e-3), 1e-9, None, S),
    (dict(rule="decades", published=1e-6, tol=1.0, baseline=1e-3), 0.2, None, F),
    (dict(rule="decades", published=1e-6, tol=1.0), 0.0, None, F),
    # band: published inside our seed band (± tol)
    (dict(rule="band", published=0.887, band="b", tol=0.01), 0.88, [0.87, 0.885], R),
    (dict(rule="band", published=0.887, band="b", baseline=0.117), 0.80, [0.78, 0.82], S),
    (dict(rule="band", published=0.887, band="b", baseline=0.117), 0.11, [0.10, 0.115], F),
    # range: ours inside the published range
    (dict(rule="range", published=[0.2, 0.4]), 0.28, None, R),
    (dict(rule="range", published=[0.2, 0.4], baseline=0.15), 0.6, None, S),
    (dict(rule="range", published=[0.2, 0.4], baseline=0.15), 0.1, None, F),
    # direction
    (dict(rule="direction", published=0.33, baseline=0.0), 0.1, None, R),
    (dict(rule="direction", published=0.33, baseline=0.0), -0.1, None, F),
    # check
    (dict(rule="check", published="learns", expect="learns"), "learns", None, R),
    (dict(rule="check", published="none", expect=[]), ["fc2.b"], None, F),
    # not comparable
    (dict(rule="not_comparable", published=0.234, note="batch unstated"), 0.3, None, N),
])
def test_each_rule_gives_each_of_its_verdicts(fields, ours, band, expected):
    c = claim(**fields)
    got, reason = ledger.verdict(c, ours, None if band is None else ledger.spread(c, ours, band))
    assert got == expected
    assert "\n" not in reason


def test_a_band_row_reads_its_band_from_the_json(small):
    book = build(small, [claim(rule="band", ours="checks.seeds[0]", band="checks.seeds", published=0.87)])
    assert book.rows[0].verdict == R and "[0.84, 0.88]" in book.rows[0].reason


@pytest.mark.parametrize("name", run_all.EXPERIMENTS)
def test_committed_json_comes_from_the_current_code(name):
    # Every JSON the current code writes records its BLAS setup under "runtime" (float32 BLAS results depend on
    # the thread count); a committed file without it predates the code and its numbers may not repeat.
    result = json.loads((ROOT / "figures" / f"{name}.json").read_text())
    assert result["experiment"] == name
    assert result["runtime"]["blas_threads"] >= 1, f"figures/{name}.json: rerun python -m experiments.{name}"
    # ... and the commit it was produced at, which docs/RESULTS.md names (a full hash, from a clean tree)
    commit = result["runtime"]["git_commit"]
    assert len(commit) == 40 and int(commit, 16) >= 0, f"figures/{name}.json: rerun python -m experiments.{name}"
    assert result["runtime"]["git_dirty"] is False, f"figures/{name}.json was made from a modified tree"
