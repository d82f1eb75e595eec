"""Fairness auditor: audit the COMPAS risk score itself, beside the compas-mlp, and compare.

ProPublica (2016) found that Black defendants who did not reoffend were about
twice as often labelled high risk as white defendants who did not: a gap in
false-positive rates. This script audits the COMPAS decile score as a model
(a decile of 5 or more, "Medium" or "High", counts as a prediction of
recidivism within two years), audits the zoo's compas-mlp on the same test
rows with the same ``fairness`` preset, writes both reports and a comparison
report, and prints the false-positive rates of African-American and Caucasian
defendants with their 95% intervals.

Which rows. ProPublica published its table (false-positive rates 44.85% and
23.45%) on all 7,214 rows of ``compas-scores-two-years.csv``. compas-mlp
needs a training split, so its rows are different: ProPublica's analysis
filter first (``-30 <= days_b_screening_arrest <= 30``, ``is_recid != -1``,
``c_charge_degree != 'O'``, a score text: 6,172 rows), then compas-mlp's
stratified 30% test split of those (1,852 rows). Both models are audited on
those test rows, which is why the score's rates there differ from the
published ones. The script first prints the published table on all 7,214
rows, as auditkit's ``fairness_group_metrics`` reproduces it, digit for digit.

Run: python examples/compas_end_to_end.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit import AuditData, AuditResult, audit, wrap_model, zoo
from auditkit.zoo import tabular

GROUPS = tabular.PROPUBLICA_GROUPS  # ("African-American", "Caucasian")
HIGH_RISK_DECILE = 5
#: ProPublica's published error rates of the score on all 7,214 rows (Larson et al. 2016), %.
PUBLISHED = {"fpr": {"African-American": 44.85, "Caucasian": 23.45},
             "fnr": {"African-American": 27.99, "Caucasian": 47.72}}


def score_probability(deciles: np.ndarray) -> np.ndarray:
    """P(recidivism) as a smooth, monotone map of the decile: 1 -> 0.21, 4 -> 0.46, 5 -> 0.54.

    The map puts 0.5 between deciles 4 and 5, so the predicted class (the
    argmax) is "recidivism" exactly when ``decile >= 5``, with no tie at 0.5,
    and the ROC AUC is that of the decile score itself.
    """
    return 0.5 + (np.asarray(deciles, dtype=np.float64) - (HIGH_RISK_DECILE - 0.5)) / 12.0


def compas_score_model() -> tuple[object, AuditData]:
    """The COMPAS decile score as a black-box model over the compas-mlp test rows.

    The score is a lookup by row, so the model's input is the row index: X is
    ``arange(n)`` as one float column and the callable reads the decile of
    each row it is given.
    """
    deciles, y, sensitive = tabular.compas_score_baseline()
    positive = score_probability(deciles)
    if not np.array_equal(positive > 0.5, deciles >= HIGH_RISK_DECILE):
        raise RuntimeError("The score map must predict high risk exactly for deciles >= 5.")

    def compas_score(rows: np.ndarray) -> np.ndarray:
        index = np.asarray(rows, dtype=np.float64)[:, 0].astype(np.int64)
        return np.column_stack([1.0 - positive[index], positive[index]])

    X = np.arange(len(deciles), dtype=np.float64)[:, None]
    data = AuditData(X, y, sensitive=sensitive, modality="tabular", feature_names=["row"],
                     class_names=tabular.COMPAS_CLASS_NAMES,
                     name="COMPAS two-year recidivism (30% test split), decile score")
    return compas_score, data


def published_table() -> pd.DataFrame:
    """ProPublica's table on all 7,214 rows, through auditkit: FPR and FNR of the score by race.

    The same decile-score model as :func:`compas_score_model`, over every row
    of the vendored file (no filter, no split), audited with
    ``fairness_group_metrics`` alone.
    """
    frame = zoo.load_compas()
    deciles = frame["decile_score"].to_numpy(np.int64)
    y = frame["two_year_recid"].to_numpy(np.int64)
    positive = score_probability(deciles)

    def compas_score_all_rows(rows: np.ndarray) -> np.ndarray:
        index = np.asarray(rows, dtype=np.float64)[:, 0].astype(np.int64)
        return np.column_stack([1.0 - positive[index], positive[index]])

    data = AuditData(np.arange(len(frame), dtype=np.float64)[:, None], y,
                     sensitive=frame[["race"]].reset_index(drop=True), modality="tabular",
                     feature_names=["row"], class_names=tabular.COMPAS_CLASS_NAMES,
                     name="COMPAS two-year recidivism, all 7,214 rows, decile score")
    result = audit(compas_score_all_rows, data, checks=["fairness_group_metrics"],
                   progress=False)
    groups = result["fairness_group_metrics"].tables["groups"].xs("race",
                                                                  level="sensitive_feature")
    return groups.loc[list(GROUPS), ["count", "fpr", "fnr"]]


def group_fpr(result: AuditResult, feature: str = "race") -> pd.DataFrame:
    """False-positive rate and its interval per group, from fairness_group_metrics."""
    check = result["fairness_group_metrics"]
    points = check.tables["groups"].xs(feature, level="sensitive_feature")
    bounds = check.tables["groups_intervals"].xs(feature, level="sensitive_feature")
    return pd.DataFrame({"count": points["count"], "fpr": points["fpr"],
                         "fpr_lower": bounds["fpr_lower"], "fpr_upper": bounds["fpr_upper"]})


def fpr_gap(y: np.ndarray, predicted: np.ndarray, race: np.ndarray, *, n_resamples: int = 2000,
            confidence: float = 0.95, random_state: int = 0) -> tuple[float, float, float]:
    """FPR(African-American) - FPR(Caucasian), with a percentile bootstrap interval.

    The two groups' negatives are resampled independently (a stratified
    bootstrap): the gap is a difference of two independent proportions, and
    resampling n flags with replacement draws their count from Binomial(n, FPR).
    """
    rng = np.random.default_rng(random_state)
    flagged = [predicted[(race == group) & (y == 0)].astype(np.float64) for group in GROUPS]
    point = flagged[0].mean() - flagged[1].mean()
    draws = [rng.binomial(len(f), f.mean(), size=n_resamples) / len(f) for f in flagged]
    gaps = draws[0] - draws[1]
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(gaps, [alpha, 1.0 - alpha])
    return float(point), float(low), float(high)


def main(out_dir: Path) -> None:
    """Audit both models, write the three reports, print the FPRs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = published_table()
    print(f"ProPublica's table, all {len(zoo.load_compas()):,} rows of "
          "compas-scores-two-years.csv (score decile >= 5 = high risk),")
    print("as auditkit computes it:")
    for group, row in table.iterrows():
        print(f"  {group:<17} FPR {row['fpr']:.2%} (published {PUBLISHED['fpr'][group]:.2f}%)  "
              f"FNR {row['fnr']:.2%} (published {PUBLISHED['fnr'][group]:.2f}%)  "
              f"({int(row['count']):,} defendants)")
        for rate in ("fpr", "fnr"):
            if round(100 * row[rate], 2) != PUBLISHED[rate][group]:
                raise RuntimeError(f"auditkit's {rate} of {group} differs from the published one.")
    score_model, score_data = compas_score_model()
    mlp, mlp_data = zoo.load("compas-mlp")
    if not score_data.sensitive.equals(mlp_data.sensitive):
        raise RuntimeError("The decile scores are not in the rows of compas-mlp's AuditData.")
    score_result = audit(score_model, score_data, preset="fairness", progress=False,
                         title="COMPAS decile score (5+ = high risk)")
    mlp_result = audit(mlp, mlp_data, preset="fairness", progress=False, title="compas-mlp")
    for result, stem in ((score_result, "compas_score"), (mlp_result, "compas_mlp")):
        result.save_html(out_dir / f"{stem}_report.html")
        result.save_json(out_dir / f"{stem}.json")
    diff = score_result.save_comparison_html(out_dir / "compas_comparison.html", mlp_result,
                                             names=["COMPAS score", "compas-mlp"])

    deciles, y, sensitive = tabular.compas_score_baseline()
    race = sensitive["race"].to_numpy()
    filtered = mlp_data.n_samples + len(mlp_data.train.y)  # compas-mlp's train + test rows
    print(f"The audits below use other rows: ProPublica's analysis filter ({filtered:,} of "
          f"{len(zoo.load_compas()):,} rows),")
    print(f"then compas-mlp's 30% test split ({len(y):,} rows), the same rows for both models.")
    for label, result in (("COMPAS score", score_result), ("compas-mlp", mlp_result)):
        table = group_fpr(result).loc[list(GROUPS)]
        print(f"{label}, {len(y):,} test rows: false-positive rate (95% bootstrap interval)")
        print("among defendants who did not reoffend:")
        for group, row in table.iterrows():
            negatives = int(((race == group) & (y == 0)).sum())
            print(f"  {group:<17} {row['fpr']:.1%} [{row['fpr_lower']:.1%}, "
                  f"{row['fpr_upper']:.1%}]  ({negatives} of {int(row['count'])} did not "
                  "reoffend)")
    score_predicted = (deciles >= HIGH_RISK_DECILE).astype(np.int64)
    mlp_predicted = _mlp_predictions(mlp, mlp_data)
    for label, predicted in (("COMPAS score", score_predicted), ("compas-mlp", mlp_predicted)):
        gap, low, high = fpr_gap(y, predicted, race)
        print(f"{label}: FPR gap African-American - Caucasian {gap * 100:+.1f} points "
              f"[{low * 100:+.1f}, {high * 100:+.1f}]")
    print(f"Wrote {diff} and the two reports beside it.")


def _mlp_predictions(model: object, data: AuditData) -> np.ndarray:
    """compas-mlp's predicted class per test row, through auditkit's adapter."""
    proba = wrap_model(model, device="cpu").predict_proba(data.X)
    return np.argmax(proba, axis=1).astype(np.int64)


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("compas_reports"))
