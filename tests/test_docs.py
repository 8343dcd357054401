"""docs/BACKPROP.md stays true: its code runs, its numbers are npnet's, its formulas are npnet's, its names exist.

The doc's ```python blocks run in order in one namespace; each one that prints is followed by a ```text block
holding what it prints. Lines ``name = <array or number>`` are compared numerically (the doc prints 6 decimals,
so each printed value must lie within 5e-7 of npnet's), any other line textually. Independently of npnet, the
printed numbers of the worked example are recomputed from the doc's formulas in plain NumPy.

After changing npnet or the doc, regenerate the output blocks with ``python tests/test_docs.py`` (it prints each
block's output) and paste them in.
"""
import ast
import contextlib
import importlib
import importlib.util
import io
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "BACKPROP.md"
TOL = 5e-7 + 1e-12          # half a unit in the 6th decimal, plus float slack
MAX_WORDS = 4500            # ~30 minutes at ~150 words a minute for math-heavy text

FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
REFERENCE = re.compile(r"`((?:npnet|experiments)/[\w/]+\.py): ([A-Za-z_][\w.]*)`")
ENTRY = re.compile(r"^([\w.']+) = (.*)$")

#: every formula of the issue must point at its implementation
REQUIRED_REFERENCES = {
    ("npnet/layers.py", "Dense.forward"), ("npnet/layers.py", "Dense.backward"),
    ("npnet/layers.py", "Activation.backward"),
    ("npnet/losses.py", "SoftmaxCrossEntropy.forward"), ("npnet/losses.py", "SoftmaxCrossEntropy.backward"),
    ("npnet/activations.py", "sigmoid_grad"), ("npnet/activations.py", "tanh_grad"),
    ("npnet/activations.py", "relu_grad"), ("npnet/activations.py", "identity_grad"),
    ("npnet/network.py", "Network.backward"), ("npnet/optim.py", "SGD.step"),
    ("npnet/gradcheck.py", "numerical_gradient"), ("npnet/gradcheck.py", "check"),
    ("npnet/products.py", "Exact.matmul"), ("npnet/init.py", "xavier_uniform"), ("npnet/init.py", "he_normal"),
    ("npnet/init.py", "calculate_gain"), ("experiments/symmetry.py", "mechanisms"),
}


def doc_text():
    return DOC.read_text(encoding="utf-8")


def fenced_blocks(text):
    """[(language, body)] of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def code_and_outputs(text):
    """[(python source, expected output or None)]: each python block with the text block right after it."""
    blocks = fenced_blocks(text)
    pairs = []
    for i, (lang, body) in enumerate(blocks):
        if lang == "python":
            follows = blocks[i + 1] if i + 1 < len(blocks) else None
            pairs.append((body, follows[1] if follows and follows[0] == "text" else None))
    return pairs


def run_doc(text):
    """Run the doc's python blocks in one namespace; return (namespace, [(source, expected, printed)])."""
    namespace = {"__name__": "backprop_doc"}
    runs = []
    for source, expected in code_and_outputs(text):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(source, str(DOC), "exec"), namespace)
        runs.append((source, expected, out.getvalue()))
    return namespace, runs


def parse_output(text):
    """Items of a printed block: ("num", name, array) for `name = <numbers>`, else ("text", line)."""
    items = []
    for line in text.rstrip("\n").split("\n"):
        match = ENTRY.match(line)
        if match:
            items.append(["entry", match.group(1), match.group(2)])
        elif line.startswith(" ") and items and items[-1][0] == "entry":
            items[-1][2] += "\n" + line          # continuation of a multi-line array
        else:
            items.append(["text", line.rstrip()])
    parsed = []
    for item in items:
        if item[0] == "text":
            parsed.append(("text", item[1]))
            continue
        _, name, value = item
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            literal = None
        array = None if literal is None or isinstance(literal, bool) else np.asarray(literal)
        if array is not None and array.dtype.kind in "if":
            parsed.append(("num", name, array.astype(float)))
        else:
            parsed.append(("text", f"{name} = {value.rstrip()}"))
    return parsed


def mismatches(expected, printed, tol=TOL):
    """Human-readable differences between a doc output block and what the code printed (empty: they agree)."""
    want, got = parse_output(expected), parse_output(printed)
    problems = []
    if [w[:2] for w in want] != [g[:2] for g in got]:
        problems.append(f"entries differ: doc has {[w[1] for w in want]}, code prints {[g[1] for g in got]}")
        return problems
    for w, g in zip(want, got):
        if w[0] == "num":
            if w[2].shape != g[2].shape:
                problems.append(f"{w[1]}: shape {w[2].shape} in the doc, {g[2].shape} printed")
            elif not np.all(np.abs(w[2] - g[2]) <= tol):
                problems.append(f"{w[1]}: max |doc − code| = {np.max(np.abs(w[2] - g[2])):.2e}")
    return problems


@pytest.fixture(scope="module")
def doc():
    text = doc_text()
    namespace, runs = run_doc(text)
    return {"text": text, "ns": namespace, "runs": runs}


def printed_values(doc):
    """{name: array} of every number the doc prints, as parsed from the doc itself."""
    values = {}
    for _, expected, _ in doc["runs"]:
        for item in parse_output(expected or ""):
            if item[0] == "num":
                values[item[1]] = item[2]
    return values


# --- the doc's code and numbers -------------------------------------------------------------------------------

def test_every_printing_block_is_followed_by_its_output(doc):
    assert len(doc["runs"]) >= 5
    for source, expected, printed in doc["runs"]:
        if printed:
            assert expected is not None, f"this block prints but no ```text block follows it:\n{source}"


def test_printed_numbers_are_what_npnet_computes(doc):
    problems = []
    for source, expected, printed in doc["runs"]:
        if expected is not None:
            problems += mismatches(expected, printed)
    assert not problems, "docs/BACKPROP.md is out of date (python tests/test_docs.py regenerates):\n" + \
        "\n".join(problems)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_printed_numbers_follow_the_docs_formulas(doc):
    """The worked example recomputed from the doc's formulas in plain NumPy, against the doc's printed numbers."""
    ns, v = doc["ns"], printed_values(doc)
    X, y, w = ns["X"], ns["y"], {k: np.array(val) for k, val in ns["weights"].items()}
    W1, b1, W2, b2 = w["fc1.W"], w["fc1.b"], w["fc2.W"], w["fc2.b"]
    B, C = X.shape[0], W2.shape[0]
    Z1 = X @ W1.T + b1
    A1 = sigmoid(Z1)
    Z2 = A1 @ W2.T + b2
    P = np.exp(Z2) / np.exp(Z2).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(P[np.arange(B), y]))
    delta2 = (P - np.eye(C)[y]) / B
    dA1 = delta2 @ W2
    delta1 = dA1 * A1 * (1 - A1)
    expected = {"Z1": Z1, "A1": A1, "Z2": Z2, "P": P, "loss": loss, "delta2": delta2, "dW2": delta2.T @ A1,
                "db2": delta2.sum(axis=0), "dA1": dA1, "delta1": delta1, "dW1": delta1.T @ X,
                "db1": delta1.sum(axis=0), "dW1_numeric": delta1.T @ X, "dW2_numeric": delta2.T @ A1,
                "loss_before": loss}
    for name, value in expected.items():
        assert name in v, f"the doc no longer prints {name}"
        np.testing.assert_allclose(v[name], value, rtol=0, atol=TOL, err_msg=name)
    # the SGD step: θ − 0.5 dθ, then the same forward formulas
    W1n, b1n = W1 - 0.5 * delta1.T @ X, b1 - 0.5 * delta1.sum(axis=0)
    W2n, b2n = W2 - 0.5 * delta2.T @ A1, b2 - 0.5 * delta2.sum(axis=0)
    Pn = np.exp(sigmoid(X @ W1n.T + b1n) @ W2n.T + b2n)
    Pn /= Pn.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(v["loss_after"], -np.mean(np.log(Pn[np.arange(B), y])), rtol=0, atol=TOL)
    assert v["loss_after"] < v["loss_before"]


def test_network_forward_backward_is_the_layer_by_layer_walk(doc):
    """`net.backward(loss_fn.backward())` makes exactly the calls the doc makes one by one."""
    import npnet
    ns = doc["ns"]
    net = npnet.mlp([2, 3, 2], "sigmoid", rng=np.random.default_rng(0))
    net.set_weights({k: np.array(val) for k, val in ns["weights"].items()})
    loss_fn = npnet.SoftmaxCrossEntropy()
    loss_fn.forward(net.forward(ns["X"]), ns["y"])
    net.backward(loss_fn.backward())
    v = printed_values(doc)
    for name, printed in [("Z1", net.preactivations[0]), ("A1", net.outputs[0]), ("Z2", net.preactivations[1]),
                          ("dW1", net.dense[0].dW), ("db1", net.dense[0].db), ("dW2", net.dense[1].dW),
                          ("db2", net.dense[1].db)]:
        np.testing.assert_allclose(v[name], printed, rtol=0, atol=TOL, err_msg=name)


def test_hand_check_in_the_prose_uses_the_examples_numbers(doc):
    ns = doc["ns"]
    X, W1, b1 = ns["X"], np.array(ns["weights"]["fc1.W"]), np.array(ns["weights"]["fc1.b"])
    stated = (f"$Z_{{1,00}} = {X[0, 0]:.1f} \\cdot {W1[0, 0]:.1f} + {X[0, 1]:.1f} \\cdot ({W1[0, 1]:.1f}) "
              f"+ {b1[0]:.1f} = {X[0] @ W1[0] + b1[0]:.1f}$")
    assert stated in doc["text"]


def test_gradient_check_agrees(doc):
    from npnet import gradcheck
    errors = gradcheck.check(doc["ns"]["net"], doc["ns"]["X"], doc["ns"]["y"]).rel_errors
    assert set(errors) == {"fc1.W", "fc1.b", "fc2.W", "fc2.b"} and max(errors.values()) < 1e-8


def test_zero_init_rows_stay_bitwise_equal(doc):
    """The induction's conclusion, bit for bit, on the doc's own all-zero sigmoid network."""
    net = doc["ns"]["zero_net"]
    W1, b1, W2 = net.dense[0].W, net.dense[0].b, net.dense[1].W
    assert np.any(W1 != 0)
    assert all(np.array_equal(row, W1[0]) for row in W1)
    assert np.all(b1 == b1[0])
    assert all(np.array_equal(col, W2[:, 0]) for col in W2.T)


def test_zero_init_prose_claims(doc):
    """"In the first step only W2 and b2 move; from the second step on W1 moves too"; "npnet has no dropout"."""
    from npnet import layers
    trained = doc["ns"]["trained"]
    assert trained("sigmoid", steps=1)[1] == ["fc2.W", "fc2.b"]
    assert trained("sigmoid", steps=2)[1] == ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    assert "npnet has no dropout layer" in doc["text"]
    assert not [name for name in vars(layers) if "dropout" in name.lower()]


# --- the test can fail ----------------------------------------------------------------------------------------

def test_a_changed_digit_in_the_doc_is_caught(doc):
    source, expected, printed = next(run for run in doc["runs"] if "dW1 = " in (run[1] or ""))
    assert not mismatches(expected, printed)
    line = next(line for line in expected.split("\n") if line.startswith("dW1 = "))
    changed = re.sub(r"(\d)(,|\])", lambda m: str((int(m.group(1)) + 1) % 10) + m.group(2), line, count=1)
    assert mismatches(expected.replace(line, changed), printed)
    assert mismatches(expected.replace("db1 = ", "db_1 = "), printed)


def test_a_changed_npnet_is_caught(monkeypatch):
    """Drop the 1/B from the loss gradient: the doc's numbers must no longer match."""
    from npnet import losses
    original = losses.SoftmaxCrossEntropy.backward
    monkeypatch.setattr(losses.SoftmaxCrossEntropy, "backward", lambda self: original(self) * self._probs.shape[0])
    _, runs = run_doc(doc_text())
    assert any(mismatches(expected, printed) for _, expected, printed in runs if expected is not None)


# --- names, links, length, math ---------------------------------------------------------------------------------

def references(text):
    return set(REFERENCE.findall(text))


def test_every_named_function_exists(doc):
    refs = references(doc["text"])
    assert refs
    for path, name in sorted(refs):
        assert (ROOT / path).is_file(), f"{path} does not exist"
        obj = importlib.import_module(path[:-3].replace("/", "."))
        for part in name.split("."):
            assert hasattr(obj, part), f"`{path}: {name}`: no attribute {part!r}"
            obj = getattr(obj, part)


def test_every_formula_names_its_implementation(doc):
    missing = REQUIRED_REFERENCES - references(doc["text"])
    assert not missing, f"the doc no longer names {sorted(missing)}"


def test_experiments_named_in_the_prose_exist(doc):
    """`experiments.x` modules the doc sends the reader to: each exists and has a ``main``."""
    names = set(re.findall(r"`(?:python -m )?experiments\.(\w+)`", doc["text"]))
    assert "symmetry" in names
    for name in names:
        assert importlib.util.find_spec(f"experiments.{name}"), f"docs/BACKPROP.md names experiments.{name}"
        assert callable(getattr(importlib.import_module(f"experiments.{name}"), "main", None)), name


def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#\s]+)\)", doc["text"]):
        if "://" not in target:
            assert (DOC.parent / target).resolve().exists(), f"broken link {target}"


def test_readable_in_about_thirty_minutes(doc):
    assert len(doc["text"].split()) <= MAX_WORDS


def test_math_delimiters_are_balanced(doc):
    """Outside code, every paragraph has an even number of `$`: an odd one renders as broken math on GitHub."""
    prose = FENCE.sub("", doc["text"])
    for paragraph in re.split(r"\n\s*\n", prose):
        without_code = re.sub(r"`[^`]*`", "", paragraph)
        assert without_code.count("$") % 2 == 0, f"unbalanced $ in:\n{paragraph}"
    # Markdown may treat backslash + punctuation (\, \{ \;) as an escape and eat the backslash before the math
    # renderer sees it; the doc avoids them
    assert not re.findall(r"\\[!-/:-@\[-`{-~]", re.sub(r"`[^`]*`", "", prose))


if __name__ == "__main__":
    # regenerate: print each python block's output, to paste into the ```text block after it
    import sys
    sys.path.insert(0, str(ROOT))
    for number, (_, _, printed) in enumerate(run_doc(doc_text())[1], 1):
        print(f"--- output of python block {number} ---\n{printed}", end="")


def test_readme_reading_path_links_here_and_its_figures_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/BACKPROP.md)" in readme
    for target in re.findall(r"\]\(((?:figures|docs|npnet|data)/[^)#]+)\)", readme):
        assert (ROOT / target).exists(), f"README links to missing {target}"
