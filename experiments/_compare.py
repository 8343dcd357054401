"""Published numbers against ours: the band tests every experiment and the claims ledger share.

A published value "matches" when it lies in a band around our result: ``in_band`` for a band given by its ends
(the ledger's ``band`` and ``range`` rules), ``within`` for a band given by its centre and half-width (our mean over
seeds ± k SD, plus a tolerance or the published rounding). ``against_seeds`` and ``layers_against_seeds`` are the
two verdicts the experiments record: one number against our seeds, and a published per-layer table against ours.
"""
import numpy as np


def in_band(value, lo, hi):
    """lo ≤ value ≤ hi."""
    return lo <= value <= hi


def within(published, centre, half_width):
    """|published − centre| ≤ half_width, elementwise for arrays."""
    return np.abs(np.asarray(published) - np.asarray(centre)) <= half_width


def against_seeds(published, ours, tol, k=2):
    """One published number against our seeds (``ours``: mean and sd over seeds): "matches" when it lies within
    max(k SD, tol) of our mean, else which side it lies on."""
    if within(published, ours["mean"], max(k * ours["sd"], tol)):
        verdict = "matches"
    else:
        verdict = "published higher" if published - ours["mean"] > 0 else "published lower"
    return {"published": published, "ours": ours, "verdict": verdict}


def layers_against_seeds(pub, ours, k, rounding):
    """A published per-layer table (``pub``: lists "mean" and "std") against our mean over seeds (``ours``: "mean",
    "mean_sd", "std", "std_sd"), in units of the seed-to-seed SD: a layer matches when it lies within k SD plus the
    published rounding; the table matches when every layer's mean and std do."""
    out = {"published_std": pub["std"], "published_mean": pub["mean"], "ours_std": ours["std"],
           "ours_std_sd": ours["std_sd"], "ours_mean": ours["mean"], "ours_mean_sd": ours["mean_sd"]}
    for key in ("std", "mean"):
        dev = np.abs(np.asarray(pub[key]) - np.asarray(ours[key]))
        sd = np.asarray(ours[f"{key}_sd"])
        out[f"z_{key}"] = (dev / np.maximum(sd, 1e-300)).tolist()
        out[f"ok_{key}"] = bool(np.all(within(pub[key], ours[key], k * sd + rounding)))
    # the band the match rule accepts a published std in, per layer (before the rounding allowance)
    out["ours_std_lo"] = (np.asarray(ours["std"]) - k * np.asarray(ours["std_sd"])).tolist()
    out["ours_std_hi"] = (np.asarray(ours["std"]) + k * np.asarray(ours["std_sd"])).tolist()
    out["max_abs_z_std"] = float(max(d / max(s, 1e-300) for d, s in zip(
        np.maximum(np.abs(np.asarray(pub["std"]) - np.asarray(ours["std"])) - rounding, 0.0), ours["std_sd"])))
    out["match"] = out["ok_std"] and out["ok_mean"]
    return out
