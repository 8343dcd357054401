"""The claims ledger as a sceptical reader needs it: every row can fail (its counterfactual flips it), exact checks
keep JSON's types apart, a band verdict depends on our value, every study's claims are counted, findings are kept
apart from verdicts, and every JSON names the commit it was produced at."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from experiments import _outputs as common
from experiments import _ledger as ledger
from experiments import all as run_all

ROOT = Path(__file__).resolve().parents[1]
FIVE = ("init-bench", "relu-spread", "lecture", "cs231n-notes", "kaiming-analysis")


@pytest.fixture(scope="module")
def book():
    """The ledger of the committed JSON, as docs/RESULTS.md shows it."""
    return ledger.build(ROOT / "figures", run_all.EXPERIMENTS)


def test_every_compared_row_flips_at_its_counterfactual(book):
    compared = [r for r in book.rows if r.claim["rule"] not in ledger.UNCOMPARED]
    assert compared
    for r in compared:
        flipped, _ = ledger.verdict(r.claim, r.counterfactual, r.band)
        assert flipped != r.verdict, f"{r.claim['id']}: {r.verdict} at ours = {r.ours!r} and still {flipped} at " \
                                     f"its counterfactual {r.counterfactual!r}: the rule cannot fail"
        assert r.flipped == flipped


def test_rows_that_compare_nothing_say_why_and_have_no_counterfactual():
    for c in ledger.load()["claim"]:
        if c["rule"] in ledger.UNCOMPARED:
            assert c.get("note") and "counterfactual" not in c, c["id"]


def test_each_study_has_one_row_per_counted_claim():
    spec = ledger.load()
    for name in FIVE:
        rows = [c for c in spec["claim"] if c["study"] == name]
        assert len(rows) == spec["studies"][name]["claims"], \
            f"{name}: {len(rows)} rows for {spec['studies'][name]['claims']} claims counted in its write-up"


def test_one_claim_one_row_no_published_value_judged_twice():
    """Two compared rows of one study reading the same quantity of ours would be two verdicts on one measurement
    (the audit found 0.245 judged three times; two sentences of the lecture once judged one run twice)."""
    seen = {}
    for c in ledger.load()["claim"]:
        if c["rule"] in ledger.UNCOMPARED:
            continue
        key = (c["study"], str(c["ours"]))
        assert key not in seen, f"{c['id']} repeats {seen[key]}"
        seen[key] = c["id"]


@pytest.mark.parametrize("ours, expect, same", [
    (True, 1, False), (1, 1.0, False), (True, 1.0, False), (1, True, False),
    ([1], [1.0], False), ({"a": True}, {"a": 1}, False),
    (1, 1, True), (True, True, True), ([], [], True), (["fc2.b"], ["fc2.b"], True), ("x", "x", True),
])
def test_check_keeps_json_types_apart(ours, expect, same):
    c = {"id": "c", "rule": "check", "published": "p", "expect": expect}
    assert (ledger.verdict(c, ours)[0] == ledger.REPRODUCED) is same


def test_a_band_verdict_depends_on_ours():
    c = {"id": "c", "rule": "band", "published": 0.887, "tol": 0.0}
    band = ledger.spread(c, 0.88, [0.87, 0.89])
    assert ledger.verdict(c, 0.88, band)[0] == ledger.REPRODUCED
    assert ledger.verdict(c, 0.50, band)[0] == ledger.REFUTED        # the same spread around another value
    with pytest.raises(ledger.LedgerError, match="outside its own band"):
        ledger.spread(c, 0.95, [0.87, 0.89])                          # the value shown must be the band's centre


def test_a_log_band_moves_multiplicatively_and_a_series_band_entry_by_entry():
    c = {"id": "c", "rule": "band", "published": 4.6e25, "log": True}
    band = ledger.spread(c, 1.5e25, [1e22, 3e27])
    assert ledger.verdict(c, 1.5e25, band)[0] == ledger.REPRODUCED
    assert ledger.verdict(c, 1.0, band)[0] == ledger.REFUTED
    s = {"id": "s", "rule": "band", "published": [0.5, 0.25], "tol": 0.0}
    band = ledger.spread(s, [0.5, 0.26], [[0.49, 0.24], [0.51, 0.27]])
    assert ledger.verdict(s, [0.5, 0.26], band)[0] == ledger.REPRODUCED
    got, reason = ledger.verdict(s, [0.5, 0.5], band)
    assert got == ledger.REFUTED and "1/2 entries" in reason


def test_committed_results_name_the_commit_of_every_experiment(book):
    text = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    for name in run_all.EXPERIMENTS:
        section = next(s for s in sections if s.startswith(f"{name}:") or s.startswith(f"{name}\n"))
        assert "Produced at: " in section, name
        run = book.json[name].get("runtime", {})
        if "git_commit" in run and run["git_commit"] != "unknown":
            assert f"`{run['git_commit'][:12]}`" in section


def test_the_runtime_block_records_the_commit_and_a_dirty_flag(tmp_path):
    info = common.runtime_info()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:
        assert info["git_commit"] == head.stdout.strip() and isinstance(info["git_dirty"], bool)
    else:
        assert info["git_commit"] == "unknown"
    assert common.git_provenance(tmp_path) == {"git_commit": "unknown", "git_dirty": "unknown"}


def test_provenance_lines():
    assert "not recorded" in ledger._provenance({"runtime": {"blas_threads": 1}})
    assert "unknown" in ledger._provenance({"runtime": {"git_commit": "unknown", "git_dirty": "unknown"}})
    line = ledger._provenance({"runtime": {"git_commit": "0123456789abcdef", "git_dirty": True}})
    assert "`0123456789ab`" in line and "uncommitted" in line


def test_results_md_has_per_study_counts_and_a_findings_section(book):
    text = ledger.render(book, run_all.DEFAULT_RESULTS, ROOT / "figures")
    header = next(line for line in text.splitlines() if line.startswith("| study | claims | rows |"))
    for head in ("reproduced", "different size", "refuted", "not comparable", "not checkable"):
        assert head in header
    spec = ledger.load()
    for name in FIVE:
        rows = [r for r in book.rows if r.claim["study"] == name]
        line = next(line for line in text.splitlines() if line.startswith(f"| [{name}]("))
        assert f"| {spec['studies'][name]['claims']} | {len(rows)} |" in line
    assert "## Findings: our readings, not the studies' claims" in text
    for f in spec["finding"]:
        assert f"**`{f['id']}`**" in text
    # a finding is never a row with a verdict
    assert not {f["id"] for f in spec["finding"]} & {c["id"] for c in spec["claim"]}


def test_a_stale_results_md_fails_the_committed_check(book, tmp_path):
    text = ledger.render(book, run_all.DEFAULT_RESULTS, ROOT / "figures")
    committed = (ROOT / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert committed == text, "docs/RESULTS.md is stale: run python -m experiments.all --report-only"
    # the same comparison catches one changed verdict
    stale = text.replace("**reproduced**", "**refuted**", 1)
    assert stale != text


def toml_value(v):
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)


def test_a_row_without_counterfactual_or_gloss_is_rejected(tmp_path):
    (tmp_path / "small.json").write_text(json.dumps({"v": 0.5}), encoding="utf-8")
    base = {"id": "c1", "study": "init-bench", "experiment": "small", "claim": "x", "published": 0.5, "ours": "v",
            "rule": "abs", "tol": 0.1}

    def write(row):
        text = '[studies.init-bench]\nclaims = 1\n\n[experiments.small]\ntitle = "t"\nfigures = []\n\n[[claim]]\n'
        text += "".join(f"{k} = {toml_value(v)}\n" for k, v in row.items())
        (tmp_path / "c.toml").write_text(text, encoding="utf-8")
        return ledger.build(tmp_path, ["small"], claims_path=tmp_path / "c.toml", exists=lambda n: True)

    with pytest.raises(ledger.LedgerError, match="needs counterfactual"):
        write(base)
    with pytest.raises(ledger.LedgerError, match="needs its English gloss"):
        write({**base, "counterfactual": 0.9, "counterfactual_means": "m", "quote": "同一のまま"})
    with pytest.raises(ledger.LedgerError, match="compares nothing"):
        write({**base, "rule": "not_checkable", "note": "n", "counterfactual": 0.9})
    book = write({**base, "counterfactual": {"path": "v"}, "counterfactual_means": "m"})
    assert book.rows[0].verdict == ledger.REPRODUCED and book.rows[0].flipped == ledger.REPRODUCED
    book = write({**base, "rule": "not_checkable", "note": "no such layer", "ours": ""})
    assert book.rows[0].verdict == ledger.NOT_CHECKABLE


def test_evidence_is_read_from_the_json_and_shown_inside_the_row(tmp_path):
    (tmp_path / "small.json").write_text(json.dumps({"v": 0.5, "w": [1, 2]}), encoding="utf-8")
    text = ('[studies.init-bench]\nclaims = 1\n\n[experiments.small]\ntitle = "t"\nfigures = []\n\n[[claim]]\n'
            'id = "c1"\nstudy = "init-bench"\nexperiment = "small"\nclaim = "x"\npublished = 0.5\nours = "v"\n'
            'rule = "abs"\ntol = 0.1\ncounterfactual = 0.9\ncounterfactual_means = "m"\n'
            'evidence = [["at batch 32", "w[-1]"]]\n\n'
            '[[finding]]\nid = "f1"\nstudy = "init-bench"\nexperiment = "small"\nfinding = "a reading"\n'
            'evidence = [["the list", "w"]]\n')
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    book = ledger.build(tmp_path, ["small"], claims_path=tmp_path / "c.toml", exists=lambda n: True)
    assert book.rows[0].evidence == [("at batch 32", "2", "small.json: w[-1]")]
    out = ledger.render(book, tmp_path / "RESULTS.md", tmp_path)
    assert "evidence: at batch 32 = 2" in out and "**`f1`**" in out and "the list: [1, 2]" in out


def test_no_user_facing_text_points_at_the_developers_studies_folder():
    files = [ROOT / "README.md", ROOT / "experiments" / "claims.toml", *(ROOT / "docs").glob("*.md"),
             *(ROOT / "experiments").rglob("*.py")]
    for path in files:
        assert "../shared" not in path.read_text(encoding="utf-8"), path


def test_studies_md_describes_every_study_the_ledger_names():
    text = (ROOT / "docs" / "STUDIES.md").read_text(encoding="utf-8")
    for name in ledger.load()["studies"]:
        assert re.search(rf"^## {re.escape(name)}$", text, flags=re.M), name


def test_studies_md_lists_every_row_of_its_study():
    text = (ROOT / "docs" / "STUDIES.md").read_text(encoding="utf-8")
    for c in ledger.load()["claim"]:
        assert f"`{c['id']}`" in text, f"docs/STUDIES.md does not list {c['id']}"
