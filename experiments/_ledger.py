"""The claims ledger: each published claim (experiments/claims.toml) beside npnet's number and an explicit verdict.

The published side lives only in claims.toml. npnet's side is never typed in: every row names the JSON an
experiment wrote and a *key path* into it, read here. One claim of a study is one row; each row has a rule that
turns (published, ours) into one verdict and a one-line reason:

  reproduced · same direction, different size · refuted · not comparable · not checkable   (and pending, below)

Every compared row states its *counterfactual*: a value of ours (typed, or read by a key path, e.g. the competing
init's measured value) under which the rule gives another verdict; the tests feed it and require the change, so no
rule is one that cannot fail. A band rule places our seed band around our value (``spread``), so its verdict
depends on ours. Runs at other settings are *evidence* shown inside a row, never verdicts of their own; our
readings of a study are *findings*, rendered apart. RESULTS.md names the commit each JSON was produced at (the
runtime block of the shared output helper).

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
NOT_CHECKABLE = "not checkable"
PENDING = "pending"
VERDICTS = (REPRODUCED, SAME_DIRECTION, REFUTED, NOT_COMPARABLE, NOT_CHECKABLE, PENDING)
#: the rules that compare a value of ours with the published side; every such row states its counterfactual
UNCOMPARED = ("not_comparable", "not_checkable")

#: rule kind → (fields it needs besides the common ones, what it means); the table is shown in RESULTS.md
RULES = {
    "abs": (("tol",), "reproduced if |ours − published| ≤ tol"),
    "rel": (("tol",), "reproduced if |ours − published| ≤ tol·|published|"),
    "decades": (("tol",), "reproduced if |log10 ours − log10 published| ≤ tol (ours and published > 0)"),
    "band": (("band",), "reproduced if published lies in our seed band [min, max] read from the JSON (± tol); the band "
                        "is our value's spread, ours + [min − ours, max − ours] (× [min/ours, max/ours] with "
                        "log = true), so a different value of ours moves it"),
    "range": ((), "published is a range [lo, hi]; reproduced if ours lies in it"),
    "direction": (("baseline",), "reproduced if ours and published lie on the same side of baseline, else refuted"),
    "check": (("expect",), "reproduced if ours equals expect exactly, type included (true ≠ 1 ≠ 1.0; a boolean, "
                           "string, number or list)"),
    "not_comparable": ((), "never compared: a setting of the study that decides the result cannot be matched "
                           "offline; the note names it"),
    "not_checkable": ((), "a claim of the study that no experiment here can test; the note says why"),
}
#: what "same direction, different size" means for the graded rules: a row with ``baseline`` that misses the
#: tolerance is graded by which side of the baseline (e.g. chance accuracy, a ratio of 1) ours and published lie on
GRADED = ("abs", "rel", "decades", "band", "range")
COMMON_FIELDS = {"id", "study", "experiment", "claim", "published", "quote", "gloss", "ours", "rule", "note",
                 "baseline", "tol", "band", "log", "expect", "counterfactual", "counterfactual_means", "evidence"}
FINDING_FIELDS = {"id", "study", "experiment", "finding", "evidence"}


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


def same(a, b):
    """Exact equality that keeps JSON's types apart: true ≠ 1 ≠ 1.0 (Python's == calls all three equal)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def spread(claim, ours, band):
    """Our band as our value's spread: (lo − ours, hi − ours), or (lo/ours, hi/ours) for ``log = true`` rows; for a
    table series (published, ours and the band lists, one entry a layer) the same, entry by entry.

    The verdict then depends on ours: a counterfactual value of ours carries the same spread. Ours must lie in its
    own band (it is the band's central value: a mean or median of the same seeds); LedgerError otherwise."""
    lo, hi = band
    if isinstance(ours, list):
        if not (isinstance(lo, list) and isinstance(hi, list) and len(lo) == len(hi) == len(ours)):
            raise LedgerError(f"claim {claim['id']}: a series band needs lists as long as ours ({len(ours)})")
        parts = [spread({**claim, "log": False}, o, (a, b)) for o, a, b in zip(ours, lo, hi)]
        return ("+", [p[1] for p in parts], [p[2] for p in parts])
    _need_numbers(claim, ours, lo, hi)
    slack = 1e-9 * max(abs(lo), abs(hi))            # a mean of equal values can round past them
    if not lo - slack <= ours <= hi + slack:
        raise LedgerError(f"claim {claim['id']}: ours ({_fmt(ours)}) lies outside its own band [{_fmt(lo)}, "
                          f"{_fmt(hi)}]: the value shown must be the band's central value")
    if claim.get("log"):
        if ours <= 0 or lo <= 0:
            raise LedgerError(f"claim {claim['id']}: a log band needs positive values, got [{_fmt(lo)}, {_fmt(hi)}]")
        return ("×", lo / ours, hi / ours)
    return ("+", lo - ours, hi - ours)


def _series_band(claim, ours, pub, band):
    """(hit, detail) of a table series: every published entry inside our band placed around ours (± tol)."""
    op, a, b = band
    if not (isinstance(ours, list) and isinstance(pub, list) and len(ours) == len(pub) == len(a)):
        raise LedgerError(f"claim {claim['id']}: a series needs ours and published lists of the band's length "
                          f"({len(a)})")
    _need_numbers(claim, 0.0, *ours, *pub)
    tol = claim.get("tol", 0.0)
    inside = [in_band(p, o + x - tol, o + y + tol) for o, x, y, p in zip(ours, a, b, pub)]
    worst = max(range(len(pub)), key=lambda i: min(abs(pub[i] - ours[i] - a[i]), abs(pub[i] - ours[i] - b[i]))
                if not inside[i] else -1)
    detail = f"published in our band at {sum(inside)}/{len(inside)} entries" + \
        ("" if all(inside) else f" (entry {worst + 1}: {_fmt(pub[worst])} vs [{_fmt(ours[worst] + a[worst])}, "
                                f"{_fmt(ours[worst] + b[worst])}])") + (f" ± {_fmt(tol)}" if tol else "")
    return all(inside), detail


def verdict(claim, ours, band=None):
    """(verdict, reason) of one row, from its rule, the published value and ours.

    ``band`` (rule 'band' only) is ``spread(claim, ours_measured, [lo, hi])``: the band is placed around ``ours``,
    so that the counterfactual test can move it."""
    rule, pub = claim["rule"], claim.get("published")
    if rule == "not_comparable":
        return NOT_COMPARABLE, ""
    if rule == "not_checkable":
        return NOT_CHECKABLE, ""
    if rule == "check":
        hit = same(ours, claim["expect"])
        return (REPRODUCED if hit else REFUTED), f"ours {'=' if hit else '≠'} {_fmt(claim['expect'])}"
    if rule == "direction":
        _need_numbers(claim, ours, pub, claim["baseline"])
        base = claim["baseline"]
        hit = _side(ours, base) == _side(pub, base) != 0
        where = {1: "above", -1: "below", 0: "at"}
        return (REPRODUCED if hit else REFUTED), \
            f"published {where[_side(pub, base)]}, ours {where[_side(ours, base)]} {_fmt(base)}"
    if rule == "range":
        if not (isinstance(pub, list) and len(pub) == 2):
            raise LedgerError(f"claim {claim['id']}: rule 'range' needs published = [lo, hi], got {pub!r}")
        _need_numbers(claim, ours, *pub)
        lo, hi = pub
        hit = in_band(ours, lo, hi)
        return _graded(claim, ours, hit, f"ours {'in' if hit else 'outside'} [{_fmt(lo)}, {_fmt(hi)}]")
    if rule == "band":
        if band is None:
            raise LedgerError(f"claim {claim['id']}: rule 'band' needs its band")
        if isinstance(pub, list):
            hit, detail = _series_band(claim, ours, pub, band)
            return (REPRODUCED if hit else REFUTED), detail
        _need_numbers(claim, ours, pub)
        op, a, b = band
        lo, hi = (ours + a, ours + b) if op == "+" else (ours * a, ours * b)
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


def counterfactual_verdict(row):
    """The verdict the row would get if ours were its stated counterfactual value (None for uncompared rows)."""
    c = row.claim
    if c["rule"] in UNCOMPARED or row.verdict == PENDING:
        return None
    return verdict(c, row.counterfactual, row.band)[0]


# ---------------------------------------------------------------------------------------------------- the file

def load(path=None):
    """The parsed claims file (default: experiments/claims.toml):
    {'studies': {name: entry}, 'experiments': {name: entry}, 'claim': [rows], 'finding': [findings]}."""
    path = Path(path if path is not None else CLAIMS)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise LedgerError(f"cannot read claims file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LedgerError(f"{path}: not valid TOML: {exc}") from None
    studies = data.get("studies", {})
    catalog, claims, findings = data.get("experiments", {}), data.get("claim", []), data.get("finding", [])
    where = path.name
    for name, entry in studies.items():
        if not isinstance(entry.get("claims"), int) or isinstance(entry.get("claims"), bool) or entry["claims"] < 0:
            raise LedgerError(f"{where}: [studies.{name}] needs claims = the number of claims counted in its "
                              "write-up")
    seen = set()
    for i, c in enumerate(claims, 1):
        cid = c.get("id", f"#{i}")
        for key in ("id", "study", "experiment", "claim", "rule"):
            if not c.get(key):
                raise LedgerError(f"{where}: claim {cid} has no {key!r}")
        if cid in seen:
            raise LedgerError(f"{where}: claim id {cid} appears twice")
        seen.add(cid)
        if c["rule"] not in RULES:
            raise LedgerError(f"{where}: claim {cid}: unknown rule {c['rule']!r}; valid: {', '.join(RULES)}")
        unknown = set(c) - COMMON_FIELDS
        if unknown:
            raise LedgerError(f"{where}: claim {cid}: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(sorted(COMMON_FIELDS))}")
        for need in RULES[c["rule"]][0]:
            if need not in c:
                raise LedgerError(f"{where}: claim {cid}: rule {c['rule']!r} needs {need!r}")
        if c["rule"] not in UNCOMPARED and "published" not in c:
            raise LedgerError(f"{where}: claim {cid} has no 'published' value")
        if "baseline" in c and c["rule"] not in (*GRADED, "direction"):
            raise LedgerError(f"{where}: claim {cid}: rule {c['rule']!r} takes no baseline")
        if c["rule"] in UNCOMPARED:
            if not c.get("note"):
                raise LedgerError(f"{where}: claim {cid}: rule {c['rule']!r} needs a note saying why")
            if "counterfactual" in c:
                raise LedgerError(f"{where}: claim {cid}: rule {c['rule']!r} compares nothing, so it has no "
                                  "counterfactual")
        elif "counterfactual" not in c or not c.get("counterfactual_means"):
            raise LedgerError(f"{where}: claim {cid}: needs counterfactual (a value of ours that would change the "
                              "verdict, or {path = key path} to read it) and counterfactual_means (what it would say)")
        elif isinstance(c["counterfactual"], dict) and set(c["counterfactual"]) != {"path"}:
            raise LedgerError(f"{where}: claim {cid}: counterfactual as a table is {{path = \"key path\"}}")
        if "log" in c and (c["rule"] != "band" or not isinstance(c["log"], bool)):
            raise LedgerError(f"{where}: claim {cid}: log = true|false belongs to band rows only")
        if c["study"] not in studies:
            raise LedgerError(f"{where}: claim {cid}: unknown study {c['study']!r}; valid: {', '.join(studies)}")
        if "quote" in c and any(ord(ch) >= 0x2E80 for ch in c["quote"]) and not c.get("gloss"):
            raise LedgerError(f"{where}: claim {cid}: a quote in {studies[c['study']].get('language', 'its language')} "
                              "needs its English gloss")
        if c["experiment"] not in catalog:
            raise LedgerError(f"{where}: claim {cid}: experiment {c['experiment']!r} has no [experiments."
                              f"{c['experiment']}] entry")
        _check_evidence(where, f"claim {cid}", c, catalog)
        c.setdefault("ours", "")
    for i, f in enumerate(findings, 1):
        fid = f.get("id", f"#{i}")
        for key in ("id", "study", "experiment", "finding"):
            if not f.get(key):
                raise LedgerError(f"{where}: finding {fid} has no {key!r}")
        unknown = set(f) - FINDING_FIELDS
        if unknown:
            raise LedgerError(f"{where}: finding {fid}: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"valid: {', '.join(sorted(FINDING_FIELDS))}")
        if fid in seen:
            raise LedgerError(f"{where}: id {fid} appears twice")
        seen.add(fid)
        if f["study"] not in studies or f["experiment"] not in catalog:
            raise LedgerError(f"{where}: finding {fid}: unknown study or experiment")
        _check_evidence(where, f"finding {fid}", f, catalog)
    return {"studies": studies, "experiments": catalog, "claim": claims, "finding": findings}


def _check_evidence(where, what, entry, catalog):
    """``evidence`` = [[label, key path], …] or [label, key path, experiment] to read another experiment's JSON."""
    for item in entry.get("evidence", []):
        if not (isinstance(item, list) and len(item) in (2, 3) and all(isinstance(x, str) and x for x in item)):
            raise LedgerError(f"{where}: {what}: each evidence item is [label, key path] or [label, key path, "
                              f"experiment], got {item!r}")
        if len(item) == 3 and item[2] not in catalog:
            raise LedgerError(f"{where}: {what}: evidence from unknown experiment {item[2]!r}")


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
    band: tuple = None          # rule 'band': our spread around ours (see ``spread``)
    evidence: list = field(default_factory=list)     # [(label, value text, source)]
    flipped: str = None         # the verdict at the counterfactual value
    counterfactual: object = None   # that value (read from the JSON when the row gives {path = …})

    @property
    def ours_text(self):
        if self.verdict == PENDING:
            return f"pending: {self.claim['experiment']} not merged yet"
        if self.ours is None and self.claim["rule"] in UNCOMPARED:
            return "—"
        return _fmt(self.ours)

    @property
    def published_text(self):
        c = self.claim
        pub = c.get("published")
        if "quote" in c:
            shown = _fmt(pub)
            text = f"“{c['quote']}”" + (f" ({c['gloss']})" if c.get("gloss") else "")
            return text + ("" if shown in c["quote"] or not isinstance(pub, (int, float, list)) else
                           f"; compared: {shown}")
        return _fmt(pub) if "published" in c else "—"

    @property
    def counterfactual_text(self):
        c = self.claim
        if c["rule"] in UNCOMPARED:
            return "—"
        return f"{_fmt(self.counterfactual)} ({c['counterfactual_means']})" + \
            (f" → {self.flipped}" if self.flipped else "")


@dataclass
class Ledger:
    catalog: dict
    studies: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    findings: list = field(default_factory=list)      # [(finding entry, [(label, value text, source)])]
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
    ledger = Ledger(catalog, studies=spec["studies"])
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
        row.source = f"{exp}.json: {c['ours']}" if c["ours"] else ""
        try:
            if c["ours"]:
                row.ours = lookup(ledger.json[exp], c["ours"])
            if c["rule"] == "band":
                row.band = spread(c, row.ours, _band(ledger.json[exp], c["band"]))
            row.verdict, detail = verdict(c, row.ours, row.band)
            if c["rule"] not in UNCOMPARED:
                cf = c["counterfactual"]
                row.counterfactual = lookup(ledger.json[exp], cf["path"]) if isinstance(cf, dict) else cf
                row.flipped = counterfactual_verdict(row)
            row.evidence = _evidence(ledger, figures_dir, exp, c)
        except LedgerError as exc:
            raise LedgerError(f"claim {c['id']} ({exp}.json: {c['ours']}): {exc}") from None
        row.reason = "; ".join(x for x in (detail, c.get("note", "")) if x)
    for f in spec["finding"]:
        if f["experiment"] in ledger.experiments and present[f["experiment"]]:
            try:
                ledger.findings.append((f, _evidence(ledger, figures_dir, f["experiment"], f)))
            except LedgerError as exc:
                raise LedgerError(f"finding {f['id']}: {exc}") from None
    return ledger


def _evidence(ledger, figures_dir, exp, entry):
    """[(label, value text, source)] of an entry's evidence, read from its experiment's JSON (or the named one's)."""
    out = []
    for item in entry.get("evidence", []):
        label, path, other = item[0], item[1], (item[2] if len(item) == 3 else exp)
        if other not in ledger.json:
            if not (Path(figures_dir) / f"{other}.json").exists():
                out.append((label, f"(in {other}.json, not in this report)", f"{other}.json: {path}"))
                continue
            ledger.json[other] = read_json(Path(figures_dir) / f"{other}.json")
        out.append((label, _fmt(lookup(ledger.json[other], path)), f"{other}.json: {path}"))
    return out


def _needs_key(c):
    if c["rule"] == "not_checkable":
        return False
    return not c["ours"] or (c["rule"] == "band" and not c["band"])


def _band(data, band):
    """[min, max] from a key path to a list of per-seed numbers, or from two key paths [lo, hi]."""
    if isinstance(band, str):
        values = lookup(data, band)
        if not (isinstance(values, list) and values and all(_is_number(v) for v in values)):
            raise LedgerError(f"band {band!r} is not a list of numbers")
        return [min(values), max(values)]
    lo, hi = (lookup(data, p) for p in band)
    if isinstance(lo, list) and isinstance(hi, list) and all(_is_number(v) for v in lo + hi):
        return [lo, hi]                               # a table series: one band entry a layer
    if not (_is_number(lo) and _is_number(hi)):
        raise LedgerError(f"band {band!r} does not hold two numbers (or two lists of numbers)")
    return [lo, hi]


# ---------------------------------------------------------------------------------------------------- RESULTS.md

def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(results_path, target):
    return Path(os.path.relpath(target, Path(results_path).parent)).as_posix()


STUDIES_DOC = Path(__file__).resolve().parents[1] / "docs" / "STUDIES.md"
VERDICT_HEAD = {SAME_DIRECTION: "different size"}


def render(ledger, results_path, figures_dir, quick=False, partial=False):
    """RESULTS.md text: the verdict counts (overall and per study), the rules, then per experiment its provenance,
    figures (linked) and ledger rows, then our findings."""
    figures_dir = Path(figures_dir)
    counts = ledger.counts()
    studies_link = _link(results_path, STUDIES_DOC)
    lines = [
        "# Results: each published claim beside npnet's number",
        "",
        f"Generated by `python -m experiments.all{' --quick' if quick else ''}` from the JSON in "
        f"`{_link(results_path, figures_dir)}/` (again without running anything: add `--report-only`); do not edit "
        "by hand. "
        "The published side is [experiments/claims.toml](" + _link(results_path, CLAIMS) + "), npnet's side is "
        "read from each experiment's JSON by the key path listed under each table. What each study is and what it "
        f"claims: [STUDIES.md]({studies_link}).",
        "",
    ]
    if partial:
        lines += [f"**Partial report:** only {', '.join(ledger.experiments)}.", ""]
    shown = [v for v in VERDICTS if v != PENDING or counts[PENDING]]
    lines += ["## Summary", "", "| verdict | rows |", "|---|---|"]
    lines += [f"| {v} | {counts[v]} |" for v in shown]
    lines += [f"| **total** | {len(ledger.rows)} |", ""]
    studies = [s for s in ledger.studies if any(r.claim["study"] == s for r in ledger.rows)]
    lines += ["Per study: *claims* is the number of checkable statements counted in its write-up (a printed number, "
              "a table series, an “X works / Y fails”); each has exactly one row, whose verdict the columns count.",
              "",
              "| study | claims | rows | " + " | ".join(VERDICT_HEAD.get(v, v) for v in shown) + " |",
              "|---" * (len(shown) + 3) + "|"]
    for s in studies:
        rows = [r for r in ledger.rows if r.claim["study"] == s]
        c = ledger.counts(rows)
        lines.append(f"| [{s}]({studies_link}#{s}) | {ledger.studies[s]['claims']} | {len(rows)} | "
                     + " | ".join(str(c[v]) for v in shown) + " |")
    lines.append("")
    todo = ledger.needing_keys()
    if todo:
        lines += ["Rows whose experiment is not merged yet and whose key path is still to be filled in "
                  "claims.toml: " + "; ".join(f"{e} ({len(ids)})" for e, ids in todo.items()) + ".", ""]
    lines += ["Verdict rules (field `rule` of each row; `baseline`, where given, grades a miss as *same direction, "
              "different size* when ours and published lie on the same side of it, else *refuted*). Every compared "
              "row states a **counterfactual**: a value of ours that would have given another verdict (shown with "
              "that verdict); the tests feed it to the rule and require the verdict to change.", ""]
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
            lines += [f"Command: `python -m experiments.{name}`" + _data_line(data), "", _provenance(data), ""]
        figs = entry.get("figures", [])
        if figs:
            if data is None:
                lines += ["Figures (once it runs): " + ", ".join(f"`{f}`" for f in figs), ""]
            else:
                lines += ["Figures: " + " · ".join(f"[{f}]({_link(results_path, figures_dir / f)})" for f in figs), ""]
        if not rows:
            lines += ["No published claims are checked here.", ""]
            continue
        lines += ["| id | study | claim | published | npnet | verdict | reason | counterfactual → verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            c = r.claim
            reason = r.reason
            if r.evidence:
                reason += ("; " if reason else "") + "evidence: " + "; ".join(f"{lab} = {val}" for lab, val, _ in
                                                                            r.evidence)
            lines.append("| " + " | ".join(_cell(x) for x in (
                f"`{c['id']}`", c["study"], c["claim"], r.published_text, r.ours_text,
                f"**{r.verdict}**", reason, r.counterfactual_text)) + " |")
        sources = [(r.claim["id"], r.source, r.evidence) for r in rows if r.source or r.evidence]
        if sources:
            lines += ["", "<details><summary>where each npnet number is read</summary>", ""]
            for cid, src, ev in sources:
                if src:
                    lines.append(f"- `{cid}`: `{src}`")
                lines += [f"- `{cid}` evidence “{lab}”: `{where}`" for lab, _, where in ev]
            lines += ["", "</details>"]
        lines.append("")
    if ledger.findings:
        lines += ["## Findings: our readings, not the studies' claims", "",
                  "Interpretations we made where a study is silent or ambiguous (which batch fits a curve, what a "
                  "call means), each with the evidence it rests on. They are not verdicts on the studies.", ""]
        for f, ev in ledger.findings:
            lines.append(f"- **`{f['id']}`** ([{f['study']}]({studies_link}#{f['study']}), "
                         f"experiments.{f['experiment']}): {f['finding']}")
            lines += [f"  - {lab}: {val} (`{where}`)" for lab, val, where in ev]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _provenance(data):
    """The commit the JSON was produced at (recorded by the shared output helper in its runtime block)."""
    run = data.get("runtime") if isinstance(data, dict) else None
    commit = run.get("git_commit") if isinstance(run, dict) else None
    if commit is None:
        return "Produced at: commit not recorded (this JSON predates the provenance record; rerun to add it)"
    if commit == "unknown":
        return "Produced at: commit unknown (not run from a git checkout)"
    dirty = run.get("git_dirty")
    state = {True: "with uncommitted changes", False: "clean"}.get(dirty, "working tree state unknown")
    return f"Produced at: commit `{commit[:12]}` ({state})"


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
