"""`streamer eval`'s report: the figures as JSON, a PNG per decoder (confusion matrix,
decision-time distribution, accuracy per fold against chance) and an HTML page with both."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=float))
    return path


def write_png(name: str, f: dict[str, Any], path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    cm = np.array(f["confusion"])
    ax[0].imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax[0].text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
    ax[0].set_xticks(range(len(f["classes"])), f["classes"])
    ax[0].set_yticks(range(len(f["classes"])), f["classes"])
    ax[0].set_xlabel("decided")
    ax[0].set_ylabel("cued")
    ax[0].set_title(f"{name}: {f['right']}/{f['n']} right")
    times = [t["time_s"] for t in f["trials"] if t["predicted"] is not None]
    ax[1].hist(times, bins=20, color="tab:gray")
    ax[1].axvline(f["decision_time_s"]["median"], color="tab:red", label=f"median {f['decision_time_s']['median']:.2f} s")
    ax[1].set_xlabel("decision time from the cue (s)")
    ax[1].set_ylabel("trials")
    ax[1].legend()
    folds = f["fold_accuracy"]
    ax[2].bar(range(1, len(folds) + 1), folds, color="tab:blue")
    ax[2].axhline(f["chance"], color="black", linestyle="--", label=f"chance {f['chance']:.2f}")
    ax[2].axhline(f["accuracy"], color="tab:red", label=f"pooled {f['accuracy']:.3f}")
    ax[2].set_ylim(0, 1)
    ax[2].set_xlabel("fold")
    ax[2].set_ylabel("accuracy")
    ax[2].legend(loc="lower right")
    fig.suptitle(f"{title} | kappa {f['kappa']:.2f}, ITR {f['itr_bits_per_min']:.2f} bit/min, "
                 f"p(binomial) {f['p_binomial']:.1g}", fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


ROWS = [("trials decided", lambda f: f"{f['n']} ({f['undecided']} undecided)"),
        ("accuracy", lambda f: f"{f['accuracy']:.3f} ({f['right']}/{f['n']})"),
        ("balanced accuracy", lambda f: f"{f['balanced_accuracy']:.3f}"),
        ("Cohen's kappa", lambda f: f"{f['kappa']:.3f}"),
        ("MCC (normalised)", lambda f: f"{f['mcc']:.3f} ({f['mcc_normalised']:.3f})"),
        ("ITR (Wolpaw)", lambda f: f"{f['itr_bits_per_min']:.2f} bit/min ({f['itr_bits_per_trial']:.3f} bit/trial)"),
        ("decision time", lambda f: "median {median:.3f} s (p5 {p5:.3f}, p95 {p95:.3f})".format(**f["decision_time_s"])),
        ("chance", lambda f: f"{f['chance']:.2f} (majority class {f['chance_majority']:.2f})"),
        ("p-value", lambda f: f"binomial {f['p_binomial']:.2g}, permutation {f['p_permutation']:.2g}")]


def write_html(result: dict[str, Any], pngs: dict[str, Path], path: Path) -> Path:
    parts = [f"<!doctype html><meta charset='utf-8'><title>streamer eval</title>"
             f"<h1>{html.escape(Path(result['graph']).name)}: split {html.escape(result['split'])}</h1>"
             f"<p>{len(result['data'])} recordings through {html.escape(result['source'])}</p>"]
    for name, f in result["decoders"].items():
        rows = "".join(f"<tr><th>{k}</th><td>{html.escape(v(f))}</td></tr>" for k, v in ROWS)
        parts.append(f"<h2>{html.escape(name)}</h2><table>{rows}</table>"
                     f"<img src='{html.escape(pngs[name].name)}' alt='figures of {html.escape(name)}'>")
    path.write_text("\n".join(parts))
    return path


def summary(result: dict[str, Any]) -> str:
    lines = []
    for name, f in result["decoders"].items():
        lines.append(f"{name} ({result['split']}):")
        lines += [f"  {k}: {v(f)}" for k, v in ROWS]
    for name, why in result.get("skipped", {}).items():
        lines.append(f"{name}: not judged here ({why})")
    return "\n".join(lines)
