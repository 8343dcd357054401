"""The training runs behind Figs. 2–3 and Table 1 of Glorot & Bengio (2010): 5 hidden layers, SGD on minibatches of 10,
and every ``probe_every`` updates each hidden layer's activations on a fixed set of test images (mean, standard
deviation and 98th percentile, as the paper draws them). One run is one picklable task (``train_task``)."""
import numpy as np

import npnet

#: label → (activation, init); "N" marks the normalized init, as in the paper's Table 1
CONFIGS = {"Softsign": ("softsign", "standard"), "Softsign N": ("softsign", "normalized"),
           "Tanh": ("tanh", "standard"), "Tanh N": ("tanh", "normalized"), "Sigmoid": ("sigmoid", "standard")}
#: npnet init specs: "standard" W ~ U[−1/√n_in, 1/√n_in] (torch_default's weight; its bias is replaced by 0 below),
#: "normalized" W ~ U[±√6/√(n_in + n_out)] (xavier_uniform)
INIT_SPECS = {"standard": "torch_default", "normalized": "xavier_uniform"}


def sizes(width, hidden=5):
    return [784] + [width] * hidden + [10]


def build(activation, init, width, seed):
    return npnet.mlp(sizes(width), activation, INIT_SPECS[init], "zeros", rng=np.random.default_rng([seed, 0]))


def probe(net, X):
    """Per hidden layer: mean, std and 98th percentile of the activations a_l on X (one forward)."""
    net.forward(X)
    stats = []
    for a in net.outputs[:-1]:
        stats.append({"mean": float(a.mean()), "std": float(a.std()), "p98": float(np.percentile(a, 98)),
                      "p98_abs": float(np.percentile(np.abs(a), 98))})
    return stats


def train_task(task):
    """task = (settings, X, y, X_test, y_test, X_probe) → per-probe activation statistics and the test error."""
    s, X, y, Xt, yt, Xp = task
    net = build(s["activation"], s["init"], s["width"], s["seed"])
    trace = {"update": [0], "layers": [probe(net, Xp)]}
    steps_per_epoch = -(-len(X) // s["batch"])

    def on_step(epoch, step, net, loss):
        update = (epoch - 1) * steps_per_epoch + step
        if update % s["probe_every"] == 0:
            trace["update"].append(update)
            trace["layers"].append(probe(net, Xp))

    hist = npnet.train(net, X, y, optimizer=npnet.SGD(net, lr=s["lr"]), epochs=s["epochs"], batch_size=s["batch"],
                       rng=np.random.default_rng([s["seed"], 1]), X_test=Xt, y_test=yt, eval_train=False,
                       on_step=on_step)
    return {**s, "test_error_pct": [100.0 * (1.0 - a) for a in hist["test_acc"]],
            "train_loss": [float(v) for v in hist["train_loss"]], "trace": trace}


def band(values):
    v = np.asarray(values, dtype=float)
    return {"mean": v.mean(axis=0).tolist(), "min": v.min(axis=0).tolist(), "max": v.max(axis=0).tolist()}


def saturation_curves(runs, label):
    """Bands over seeds of each hidden layer's mean, std and 98th percentile against the update count."""
    mine = [r for r in runs if r["label"] == label]
    updates = mine[0]["trace"]["update"]
    n_layers = len(mine[0]["trace"]["layers"][0])
    out = {"updates": updates, "seeds": len(mine), "layers": []}
    for k in range(n_layers):
        out["layers"].append({stat: band([[p[k][stat] for p in r["trace"]["layers"]] for r in mine])
                              for stat in ("mean", "std", "p98", "p98_abs")})
    return out


def first_crossing(curve, threshold, updates):
    """The first update at which ``curve`` reaches ``threshold`` (None if never)."""
    for u, v in zip(updates, curve):
        if v >= threshold:
            return u
    return None


def saturation_findings(curves):
    """The paper's Fig. 2 and Fig. 3 statements, read off our curves.

    Sigmoid: the top hidden layer's mean activation falls towards 0 (its minimum over training, and whether it
    comes back up by the end). Tanh: the update at which each layer's 98th percentile first reaches 0.95 (2% of the
    units at or beyond tanh⁻¹(0.95) ≈ 1.8, where tanh' < 0.1), layer by layer."""
    sig = curves["Sigmoid"]["layers"]
    top = sig[-1]["mean"]["mean"]
    low = int(np.argmin(top))
    tanh = curves["Tanh"]
    updates = tanh["updates"]
    crossings = [first_crossing(layer["p98"]["mean"], 0.95, updates) for layer in tanh["layers"]]
    reached = [c for c in crossings if c is not None]
    return {
        "sigmoid_top_mean_start": top[0], "sigmoid_top_mean_min": top[low],
        "sigmoid_top_mean_min_at_update": curves["Sigmoid"]["updates"][low], "sigmoid_top_mean_end": top[-1],
        "sigmoid_other_layers_mean_end": [layer["mean"]["mean"][-1] for layer in sig[:-1]],
        "sigmoid_top_lowest_of_all": all(top[-1] <= layer["mean"]["mean"][-1] for layer in sig[:-1]),
        "sigmoid_top_driven_towards_0": top[low] < 0.5 * top[0],
        "sigmoid_top_recovers": top[-1] > top[low] * 1.05,
        "tanh_p98_threshold": 0.95,
        "tanh_first_update_p98_reaches_threshold": crossings,
        "tanh_layers_saturate_in_order_from_layer_1": len(reached) >= 2 and crossings[0] is not None
        and reached == sorted(reached) and crossings[0] == min(reached),
        "softsign_p98_end": [layer["p98"]["mean"][-1] for layer in curves["Softsign"]["layers"]],
        "tanh_p98_end": [layer["p98"]["mean"][-1] for layer in tanh["layers"]],
        "softsign_p98_below_tanh_every_layer": all(
            s["p98"]["mean"][-1] < t["p98"]["mean"][-1] for s, t in zip(curves["Softsign"]["layers"], tanh["layers"])),
    }


def table1(runs, paper):
    """Test error (%) per configuration over seeds (the final epoch), beside the paper's MNIST column."""
    rows = {}
    for label in CONFIGS:
        errs = [r["test_error_pct"][-1] for r in runs if r["label"] == label]
        rows[label] = {"mean": float(np.mean(errs)), "min": float(np.min(errs)), "max": float(np.max(errs)),
                       "per_seed": errs, "paper": paper[label]}
    ours_rank = sorted(CONFIGS, key=lambda k: rows[k]["mean"])
    paper_rank = sorted(CONFIGS, key=lambda k: paper[k])
    gaps = {"tanh_minus_tanh_n": ("Tanh", "Tanh N"), "softsign_minus_softsign_n": ("Softsign", "Softsign N"),
            "sigmoid_minus_best_other": ("Sigmoid", None)}
    out_gaps = {}
    for name, (a, b) in gaps.items():
        if b is None:
            ours_b = min(rows[k]["mean"] for k in CONFIGS if k != a)
            paper_b = min(paper[k] for k in CONFIGS if k != a)
        else:
            ours_b, paper_b = rows[b]["mean"], paper[b]
        out_gaps[name] = {"ours": rows[a]["mean"] - ours_b, "paper": paper[a] - paper_b}
    return {"rows": rows, "ours_ranking": ours_rank, "paper_ranking": paper_rank, "gaps_pct_points": out_gaps,
            "sigmoid_worst": ours_rank[-1] == "Sigmoid"}
