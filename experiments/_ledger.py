"""The claims ledger: each published claim (experiments/claims.toml) beside npnet's number and an explicit verdict.

The published side lives only in claims.toml. npnet's side is never typed in: every row names the JSON an
experiment wrote and a *key path* into it, read here. Each row has a rule that turns (published, ours) into one
verdict and a one-line reason:

  reproduced · same direction, different size · refuted · not comparable   (and pending, see below)

Key paths (the ``ours`` field of a row), read left to right from the experiment's JSON:
  name            a dict key; quote it when it holds '.', '[' or ']':  checks."odd.key".value
  [3], [-1]       a list element by position
  [k=v,k2=v2]     the one list element (a dict) whose fields equal the values (compared as JSON text;
                  quote values with commas: [init="N(0, 0.01²)"])
  A / B, A - B    two paths and one operator, spaces around it: a ratio or difference of two read numbers

A row whose experiment module is not in experiments/ yet is *pending* (counted apart, never a pass). Once the
module exists, the row must have a key path and the key must be in the JSON: anything else is a LedgerError,
one line naming the row.
"""
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ._compare import in_band

CLAIMS = Path(__file__).with_name("claims.toml")

REPRODUCED = "reproduced"
SAME_DIRECTION = "same direction, different size"
REFUTED = "refuted"
NOT_COMPARABLE = "not comparable"
PENDING = "pending"
VERDICTS = (REPRODUCED, SAME_DIRECTION, REFUTED, NOT_COMPARABLE, PENDING)

#: rule kind → (fields it needs besides the common ones, what it means); the table is shown in RESULTS.md
RULES = {
    "abs": (("tol",), "reproduced if |ours − published| ≤ tol"),
    "rel": (("tol",), "reproduced if |ours − published| ≤ tol·|published|"),
    "decades": (("tol",), "reproduced if |log10 ours − log10 published| ≤ tol (ours and published > 0)"),
    "band": (("band",), "reproduced if published lies in our seed band [min, max] read from the JSON (± tol)"),
    "range": ((), "published is a range [lo, hi]; reproduced if ours lies in it"),
    "direction": (("baseline",), "reproduced if ours and published lie on the same side of baseline, else refuted"),
    "check": (("expect",), "reproduced if ours equals expect exactly (a boolean, string, number or list)"),
    "not_comparable": ((), "never compared; the note says why"),
}
#: what "same direction, different size" means for the graded rules: a row with ``baseline`` that misses the
#: tolerance is graded by which side of the baseline (e.g. chance accuracy, a ratio of 1) ours and published lie on
GRADED = ("abs", "rel", "decades", "band", "range")
COMMON_FIELDS = {"id", "study", "experiment", "claim", "published", "quote", "ours", "rule", "note", "baseline",
                 "tol", "band", "expect"}
#: the five studies of ../shared/studies (their short names), then the papers an experiment goes beyond them with
STUDIES = ("init-bench", "relu-spread", "lecture", "cs231n-notes", "kaiming-analysis", "schoenholz-2017")


class LedgerError(Exception):
    """A claims file or JSON that cannot give a verdict: one line, naming the row."""


# ---------------------------------------------------------------------------------------------------- key paths

_SEGMENT = re.compile(r'\.?(?:"(?P<quoted>[^"]*)"|(?P<name>[^.\[\]"]+))|\[(?P<bracket>(?:"[^"]*"|[^\]"])*)\]')
_SELECTOR = re.compile(r'\s*(?P<key>[^=,"]+?)\s*=\s*(?:"(?P<quoted>[^"]*)"|(?P<value>[^,"]*?))\s*(?:,|$)')


def parse_path(path):
    """Split a key path into steps: ('key', name) | ('index', i) | ('select', {field: text})."""
    steps, pos = [], 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if not m or m.end() == pos:
            raise LedgerError(f"bad key path {path!r} at character {pos + 1}")
        pos = m.end()
        if m.group("bracket") is None:
            steps.append(("key", m.group("quoted") if m.group("quoted") is not None else m.group("name").strip()))
            continue
        inner = m.group("bracket").strip()
        if re.fullmatch(r"-?\d+", inner):
            steps.append(("index", int(inner)))
            continue
        fields, at = {}, 0
        while at < len(inner):
            s = _SELECTOR.match(inner, at)
            if not s or s.end() == at:
                raise LedgerError(f"bad selector [{inner}] in key path {path!r}: expected [field=value,...] or [N]")
            fields[s.group("key")] = s.group("quoted") if s.group("quoted") is not None else s.group("value")
            at = s.end()
        steps.append(("select", fields))
    return steps


def _as_text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _step_text(step):
    kind, arg = step
    if kind == "key":
        return f".{arg}"
    if kind == "index":
        return f"[{arg}]"
    return "[" + ",".join(f"{k}={v}" for k, v in arg.items()) + "]"


def _one_path(data, path):
    node, where = data, ""
    for step in parse_path(path):
        kind, arg = step
        if kind == "key":
            if not isinstance(node, dict):
                raise LedgerError(f"no key {arg!r} at {where or 'the top'}: a {type(node).__name__}, not a dict")
            if arg not in node:
                keys = ", ".join(list(node)[:8]) + (", …" if len(node) > 8 else "")
                raise LedgerError(f"no key {arg!r} at {where or 'the top'} (there: {keys})")
            node = node[arg]
        elif kind == "index":
            if not isinstance(node, list) or not -len(node) <= arg < len(node):
                size = f"length {len(node)}" if isinstance(node, list) else f"a {type(node).__name__}"
                raise LedgerError(f"no element [{arg}] at {where or 'the top'} ({size})")
            node = node[arg]
        else:
            if not isinstance(node, list):
                raise LedgerError(f"selector {_step_text(step)} at {where or 'the top'}: a {type(node).__name__}, "
                                  "not a list")
            hits = [e for e in node if isinstance(e, dict)
                    and all(k in e and _as_text(e[k]) == v for k, v in arg.items())]
            if len(hits) != 1:
                raise LedgerError(f"selector {_step_text(step)} at {where or 'the top'} matches {len(hits)} of "
                                  f"{len(node)} elements (need exactly 1)")
            node = hits[0]
        where += _step_text(step)
    return node


def _split_operator(path):
    """(left, op, right) for 'A / B' or 'A - B' outside quotes and brackets; (path, None, None) otherwise."""
    depth, quoted = 0, False
    for i, ch in enumerate(path):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[]":
            depth += 1 if ch == "[" else -1
        elif not quoted and depth == 0 and path[i:i + 3] in (" / ", " - "):
            return path[:i].strip(), path[i + 1], path[i + 3:].strip()
    return path, None, None


def lookup(data, path):
    """The value at key path ``path`` in the JSON ``data`` (or A/B, A−B of two numbers); LedgerError if absent."""
    left, op, right = _split_operator(path)
    if op is None:
        return _one_path(data, path)
    a, b = _one_path(data, left), _one_path(data, right)
    for side, v in ((left, a), (right, b)):
        if not _is_number(v):
            raise LedgerError(f"{side!r} is {v!r}, not a number, and cannot take part in {op!r}")
    if op == "/":
        if b == 0:
            raise LedgerError(f"{right!r} is 0: cannot divide by it")
        return a / b
    return a - b


# ---------------------------------------------------------------------------------------------------- verdicts

def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _side(value, baseline):
    return (value > baseline) - (value < baseline)


def _fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "0" if v == 0 else f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _graded(claim, ours, hit, detail):
    """A graded rule's verdict: reproduced if ``hit``; otherwise judged by the sides of the baseline, if any."""
    if hit:
        return REPRODUCED, detail
    base = claim.get("baseline")
    if base is None:
        return REFUTED, detail
    pub = claim["published"]
    pub_side = {_side(p, base) for p in (pub if isinstance(pub, list) else [pub])}
    ours_side = {_side(o, base) for o in (ours if isinstance(ours, list) else [ours])}
    if len(pub_side) == 1 and pub_side == ours_side and 0 not in pub_side:
        return SAME_DIRECTION, f"{detail}; both {'above' if pub_side == {1} else 'below'} {_fmt(base)}"
    return REFUTED, f"{detail}; not on the published side of {_fmt(base)}"


def _need_numbers(claim, ours, *values):
    for v in (ours, *values):
        if not _is_number(v):
            raise LedgerError(f"claim {claim['id']}: rule {claim['rule']!r} needs numbers, got {v!r}")


def verdict(claim, ours, band=None):
    """(verdict, reason) of one row, from its rule, the published value and ours (and the band, for rule 'band')."""
    rule, pub = claim["rule"], claim.get("published")
    if rule == "not_comparable":
        return NOT_COMPARABLE, ""
    if rule == "check":
        same = ours == claim["expect"]
        return (REPRODUCED if same else REFUTED), f"ours {'=' if same else '≠'} {_fmt(claim['expect'])}"
    if rule == "direction":
        _need_numbers(claim, ours, pub, claim["baseline"])
        base = claim["baseline"]
        same = _side(ours, base) == _side(pub, base) != 0
        where = {1: "above", -1: "below", 0: "at"}
        return (REPRODUCED if same else REFUTED), \
            f"published {where[_side(pub, base)]}, ours {where[_side(ours, base)]} {_fmt(base)}"
    if rule == "range":
        if not (isinstance(pub, list) and len(pub) == 2):
            raise LedgerError(f"claim {claim['id']}: rule 'range' needs published = [lo, hi], got {pub!r}")
        _need_numbers(claim, ours, *pub)
        lo, hi = pub
        hit = in_band(ours, lo, hi)
        return _graded(claim, ours, hit, f"ours {'in' if hit else 'outside'} [{_fmt(lo)}, {_fmt(hi)}]")
    if rule == "band":
        _need_numbers(claim, ours, pub)
        lo, hi = band
        tol = claim.get("tol", 0.0)
        hit = in_band(pub, lo - tol, hi + tol)
        band_text = f"[{_fmt(lo)}, {_fmt(hi)}]" + (f" ± {_fmt(tol)}" if tol else "")
        return _graded(claim, ours, hit, f"published {'in' if hit else 'outside'} our band {band_text}")
    _need_numbers(claim, ours, pub)
    tol = claim["tol"]
    if rule == "abs":
        d = abs(ours - pub)
        return _graded(claim, ours, d <= tol, f"|Δ| = {_fmt(d)} {'≤' if d <= tol else '>'} {_fmt(tol)}")
    if rule == "rel":
        d = abs(ours - pub) / abs(pub)
        return _graded(claim, ours, d <= tol, f"|Δ|/published = {_fmt(d)} {'≤' if d <= tol else '>'} {_fmt(tol)}")
    if rule == "decades":
        if ours <= 0 or pub <= 0:
            return _graded(claim, ours, False, f"ours is {_fmt(ours)}: no order of magnitude to compare")
        d = abs(math.log10(ours) - math.log10(pub))
        return _graded(claim, ours, d <= tol, f"{_fmt(d)} decades apart ({'≤' if d <= tol else '>'} {_fmt(tol)})")
    raise LedgerError(f"claim {claim['id']}: unknown rule {rule!r}; valid: {', '.join(RULES)}")


# ---------------------------------------------------------------------------------------------------- the file

def load(path=None):
    """The parsed claims file (default: experiments/claims.toml): {'experiments': {name: entry}, 'claim': [rows]}."""
    path = Path(path if path is not None else CLAIMS)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise LedgerError(f"cannot read claims file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LedgerError(f"{path}: not valid TOML: {exc}") from None
    catalog, claims = data.get("experiments", {}), data.get("claim", [])
    seen = set()
    for i, c in enumerate(claims, 1):
        cid = c.get("id", f"#{i}")
        for key in ("id", "study", "experiment", "claim", "rule"):
            if not c.get(key):
                raise LedgerError(f"{path.name}: claim {cid} has no {key!r}")
        if cid in seen:
            raise LedgerError(f"{path.name}: claim id {cid} appears twice")
        seen.add(cid)
        if c["rule"] not in RULES:
            raise LedgerError(f"{path.name}: claim {cid}: unknown rule {c['rule']!r}; valid: {', '.join(RULES)}")
        unknown = set(c) - COMMON_FIELDS
        if unknown:
            raise LedgerError(f"{path.name}: claim {cid}: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(sorted(COMMON_FIELDS))}")
        for need in RULES[c["rule"]][0]:
            if need not in c:
                raise LedgerError(f"{path.name}: claim {cid}: rule {c['rule']!r} needs {need!r}")
        if c["rule"] != "not_comparable" and "published" not in c:
            raise LedgerError(f"{path.name}: claim {cid} has no 'published' value")
        if "baseline" in c and c["rule"] not in (*GRADED, "direction"):
            raise LedgerError(f"{path.name}: claim {cid}: rule {c['rule']!r} takes no baseline")
        if c["rule"] == "not_comparable" and not c.get("note"):
            raise LedgerError(f"{path.name}: claim {cid}: rule 'not_comparable' needs a note saying why")
        if c["study"] not in STUDIES:
            raise LedgerError(f"{path.name}: claim {cid}: unknown study {c['study']!r}; valid: {', '.join(STUDIES)}")
        if c["experiment"] not in catalog:
            raise LedgerError(f"{path.name}: claim {cid}: experiment {c['experiment']!r} has no [experiments."
                              f"{c['experiment']}] entry")
        c.setdefault("ours", "")
    return {"experiments": catalog, "claim": claims}


def module_exists(name):
    """Whether experiments/<name>.py (or the package experiments/<name>/) is there; its rows are pending until it is.

    A file test beside this module, not importlib.util.find_spec: an editable install of another checkout of npnet
    (setuptools' meta-path finder) would otherwise answer for a module this tree does not have."""
    here = Path(__file__).parent
    return (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file()


@dataclass
class Row:
    claim: dict
    ours: object = None
    verdict: str = PENDING
    reason: str = ""
    source: str = ""

    @property
    def ours_text(self):
        if self.verdict == PENDING:
            return f"pending: {self.claim['experiment']} not merged yet"
        return _fmt(self.ours)

    @property
    def published_text(self):
        pub = self.claim.get("published")
        if "quote" in self.claim:
            shown = _fmt(pub)
            return self.claim["quote"] + ("" if shown in self.claim["quote"] or not isinstance(pub, (int, float, list))
                                          else f" (compared: {shown})")
        return _fmt(self.claim["published"]) if "published" in self.claim else "—"


@dataclass
class Ledger:
    catalog: dict
    rows: list = field(default_factory=list)
    experiments: list = field(default_factory=list)   # the ones reported, in order
    json: dict = field(default_factory=dict)          # experiment → its JSON, for those that exist

    def counts(self, rows=None):
        rows = self.rows if rows is None else rows
        return {v: sum(r.verdict == v for r in rows) for v in VERDICTS}

    def needing_keys(self):
        """experiment → ids of the rows that have no key path yet (pending experiments only)."""
        out = {}
        for r in self.rows:
            if _needs_key(r.claim):
                out.setdefault(r.claim["experiment"], []).append(r.claim["id"])
        return out


def read_json(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise LedgerError(f"{path} is missing: run python -m experiments.{path.stem} (or experiments.all)") \
            from None
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read {path}: {exc}") from None


def build(figures_dir, experiments, claims_path=None, exists=module_exists):
    """Evaluate every row of the claims file whose experiment is in ``experiments`` (or pending) against the JSON in
    ``figures_dir``. Rows of experiments not in the list and not pending are left out (a partial report)."""
    claims_path = Path(claims_path if claims_path is not None else CLAIMS)
    spec = load(claims_path)
    catalog, figures_dir = spec["experiments"], Path(figures_dir)
    ledger = Ledger(catalog)
    present = {name: exists(name) for name in catalog}
    ledger.experiments = list(experiments) + [n for n in catalog if not present[n] and n not in experiments]
    for name in experiments:
        if present.get(name, exists(name)):
            ledger.json[name] = read_json(figures_dir / f"{name}.json")
            missing = [f for f in expected_files(catalog, name) if not (figures_dir / f).exists()]
            if missing:
                raise LedgerError(f"{name}: {', '.join(missing)} missing from {figures_dir} (listed in "
                                  f"{Path(claims_path).name}): rerun python -m experiments.{name}")
    claims = [c for c in spec["claim"] if c["experiment"] in ledger.experiments]
    unfilled = [c["id"] for c in claims if present[c["experiment"]] and _needs_key(c)]
    if unfilled:
        exps = sorted({c["experiment"] for c in claims if c["id"] in unfilled})
        raise LedgerError(f"claim {unfilled[0]}: {', '.join(f'experiments/{e}.py' for e in exps)} exist(s) now, so "
                          f"{len(unfilled)} row(s) need a key path (`ours`, and `band` for band rows) in "
                          f"{claims_path.name}: {', '.join(unfilled)}")
    for c in claims:
        exp = c["experiment"]
        row = Row(c)
        ledger.rows.append(row)
        if not present[exp]:
            row.reason = "pending: experiments/" + exp + ".py not merged yet" + \
                ("; key path to fill in claims.toml" if _needs_key(c) else "")
            continue
        row.source = f"{exp}.json: {c['ours']}"
        try:
            row.ours = lookup(ledger.json[exp], c["ours"])
            band = None
            if c["rule"] == "band":
                band = _band(ledger.json[exp], c["band"])
            row.verdict, detail = verdict(c, row.ours, band)
        except LedgerError as exc:
            raise LedgerError(f"claim {c['id']} ({exp}.json: {c['ours']}): {exc}") from None
        row.reason = "; ".join(x for x in (detail, c.get("note", "")) if x)
    return ledger


def _needs_key(c):
    return not c["ours"] or (c["rule"] == "band" and not c["band"])


def _band(data, band):
    """[min, max] from a key path to a list of per-seed numbers, or from two key paths [lo, hi]."""
    if isinstance(band, str):
        values = lookup(data, band)
        if not (isinstance(values, list) and values and all(_is_number(v) for v in values)):
            raise LedgerError(f"band {band!r} is not a list of numbers")
        return [min(values), max(values)]
    lo, hi = (lookup(data, p) for p in band)
    if not (_is_number(lo) and _is_number(hi)):
        raise LedgerError(f"band {band!r} does not hold two numbers")
    return [lo, hi]


# ---------------------------------------------------------------------------------------------------- RESULTS.md

def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(results_path, target):
    return Path(os.path.relpath(target, Path(results_path).parent)).as_posix()


def render(ledger, results_path, figures_dir, quick=False, partial=False):
    """RESULTS.md text: the verdict counts (overall and per study), the rules, then per experiment its figures
    (linked) and its ledger rows."""
    figures_dir = Path(figures_dir)
    counts = ledger.counts()
    lines = [
        "# Results: each published claim beside npnet's number",
        "",
        f"Generated by `python -m experiments.all{' --quick' if quick else ''}` from the JSON in "
        f"`{_link(results_path, figures_dir)}/` (again without running anything: add `--report-only`); do not edit "
        "by hand. "
        "The published side is [experiments/claims.toml](" + _link(results_path, CLAIMS) + "), npnet's side is "
        "read from each experiment's JSON by the key path listed under each table.",
        "",
    ]
    if partial:
        lines += [f"**Partial report:** only {', '.join(ledger.experiments)}.", ""]
    lines += ["## Summary", "", "| verdict | rows |", "|---|---|"]
    lines += [f"| {v} | {counts[v]} |" for v in VERDICTS]
    lines += [f"| **total** | {len(ledger.rows)} |", ""]
    studies = [s for s in STUDIES if any(r.claim["study"] == s for r in ledger.rows)]
    lines += ["| study | " + " | ".join(VERDICTS) + " |", "|---" * (len(VERDICTS) + 1) + "|"]
    for s in studies:
        c = ledger.counts([r for r in ledger.rows if r.claim["study"] == s])
        lines.append(f"| {s} | " + " | ".join(str(c[v]) for v in VERDICTS) + " |")
    lines.append("")
    todo = ledger.needing_keys()
    if todo:
        lines += ["Rows whose experiment is not merged yet and whose key path is still to be filled in "
                  "claims.toml: " + "; ".join(f"{e} ({len(ids)})" for e, ids in todo.items()) + ".", ""]
    lines += ["Verdict rules (field `rule` of each row; `baseline`, where given, grades a miss as *same direction, "
              "different size* when ours and published lie on the same side of it, else *refuted*):", ""]
    lines += [f"- `{k}`: {text}" for k, (_, text) in RULES.items()]
    lines.append("")
    for name in ledger.experiments:
        entry = ledger.catalog.get(name, {})
        rows = [r for r in ledger.rows if r.claim["experiment"] == name]
        lines += [f"## {name}: {entry.get('title', '')}".rstrip(": "), ""]
        if entry.get("sentence"):
            lines += [entry["sentence"], ""]
        data = ledger.json.get(name)
        if data is None:
            lines += [f"*Pending: experiments/{name}.py is not merged yet.*", ""]
        else:
            lines += [f"Command: `python -m experiments.{name}`" + _data_line(data), ""]
        figs = entry.get("figures", [])
        if figs:
            if data is None:
                lines += ["Figures (once it runs): " + ", ".join(f"`{f}`" for f in figs), ""]
            else:
                lines += ["Figures: " + " · ".join(f"[{f}]({_link(results_path, figures_dir / f)})" for f in figs), ""]
        if not rows:
            lines += ["No published claims are checked here.", ""]
            continue
        lines += ["| id | study | claim | published | npnet | verdict | reason |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            c = r.claim
            lines.append("| " + " | ".join(_cell(x) for x in (
                f"`{c['id']}`", c["study"], c["claim"], r.published_text, r.ours_text,
                f"**{r.verdict}**", r.reason)) + " |")
        sources = [r for r in rows if r.source]
        if sources:
            lines += ["", "<details><summary>where each npnet number is read</summary>", ""]
            lines += [f"- `{r.claim['id']}`: `{r.source}`" for r in sources]
            lines += ["", "</details>"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _data_line(data):
    info = data.get("data") if isinstance(data, dict) else None
    quick = data.get("quick", (data.get("config") or {}).get("quick")) if isinstance(data, dict) else None
    parts = []
    if isinstance(info, dict) and info.get("source"):
        parts.append(f"data: {info['source']}")
    if quick:
        parts.append("**from a --quick run: numbers not meaningful**")
    return (" — " + "; ".join(parts)) if parts else ""


def expected_files(catalog, name):
    """The files experiment ``name`` must leave in its output directory: <name>.json and its catalog figures."""
    return [f"{name}.json", *catalog.get(name, {}).get("figures", [])]
