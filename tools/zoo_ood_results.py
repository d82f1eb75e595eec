"""Measure each zoo classifier's out-of-distribution results and write them into its model card.

Runs ``ood_detection`` (every detector, on each OOD set the zoo ships with
the model) and ``ood_drift`` (the reference data against the audited split)
at their default options, seed 0, and stores the numbers under the card's
``ood_results`` key, with the auditkit version and the command. Prints the
Markdown table the README shows. A maintainer script: it rewrites
``zoo/checkpoints/NAME.json`` (the weights and their hash are untouched).

    python tools/zoo_ood_results.py            # every classifier
    python tools/zoo_ood_results.py vowels-gru
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from auditkit import __version__, audit, zoo
from auditkit.checks import get_check

CLASSIFIERS = ("adult-mlp", "compas-mlp", "mnist-cnn", "mnist-cnn-robust", "sentiment-lstm",
               "sentiment-transformer", "vowels-gru")
CARDS = Path(__file__).resolve().parents[1] / "zoo" / "checkpoints"


def _round(value: float) -> float:
    return round(float(value), 4)


def measure(name: str) -> dict:
    """The card's ``ood_results`` for zoo model ``name``."""
    model, data = zoo.load(name)
    result = audit(model, data, checks=[get_check("ood_detection"), get_check("ood_drift")],
                   random_state=0, progress=False)
    detection, drift = result["ood_detection"], result["ood_drift"]
    out: dict = {"auditkit": __version__,
                 "command": f"python tools/zoo_ood_results.py {name}",
                 "detection_status": detection.status.value, "drift_status": drift.status.value,
                 "drift_headline": drift.headline}
    if "detection" in detection.tables:
        rows = detection.tables["detection"]
        out["detection_headline"] = detection.headline
        out["detection"] = [
            {"detector": r.detector, "ood_set": r.ood_set, "kind": r.kind,
             "n_in_distribution": int(r.n_id), "n_ood": int(r.n_ood),
             "auroc": _round(r.auroc), "auroc_95ci": [_round(r.auroc_lower), _round(r.auroc_upper)],
             "fpr_at_95_tpr": _round(r.fpr_at_95_tpr),
             "fpr_at_95_tpr_95ci": [_round(r.fpr_at_95_tpr_lower), _round(r.fpr_at_95_tpr_upper)]}
            for r in rows.itertuples()]
    else:
        out["detection_headline"] = detection.headline
    return out


def table(results: dict[str, dict]) -> str:
    """Markdown: AUROC and FPR@95 of every detector (columns) per model and OOD set (rows)."""
    detectors = list(dict.fromkeys(row["detector"] for r in results.values()
                                   for row in r.get("detection", [])))
    lines = ["| model | OOD set | " + " | ".join(detectors) + " |",
             "|---|---|" + "---|" * len(detectors)]
    for name, result in results.items():
        sets = list(dict.fromkeys(row["ood_set"] for row in result.get("detection", [])))
        for ood_set in sets:
            rows = {row["detector"]: row for row in result["detection"]
                    if row["ood_set"] == ood_set}
            best = max(rows.values(), key=lambda row: row["auroc"])["detector"]
            cells = []
            for detector in detectors:
                row = rows.get(detector)
                text = "-" if row is None else \
                    f"{row['auroc']:.3f} / {row['fpr_at_95_tpr']:.0%}"
                cells.append(f"**{text}**" if detector == best else text)
            kind = rows[next(iter(rows))]["kind"]
            lines.append(f"| {name} | {ood_set} ({kind}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(names: list[str]) -> None:
    results = {}
    for name in names or CLASSIFIERS:
        results[name] = measure(name)
        path = CARDS / f"{name}.json"
        card = json.loads(path.read_text("utf-8"))
        card["ood_results"] = results[name]
        path.write_text(json.dumps(card, indent=2) + "\n", "utf-8")
        print(f"{name}: {results[name]['detection_headline']} | {results[name]['drift_headline']}",
              flush=True)
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
