"""Membership inference: metrics against scikit-learn, attacks against direct computations,
false-alarm rates on same-distribution data, and the check on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from auditkit import AuditData, CheckContext, CheckResult, Status, wrap_model
from auditkit._stats import delong_interval
from auditkit.checks import LocalExecutor, PrivacyMembershipInference
from auditkit.checks.privacy._attacks import (
    lira_offline,
    lira_online,
    rmia_offline,
    threshold_scores,
)
from auditkit.checks.privacy._metrics import attack_score, tpr_at_fpr
from auditkit.exceptions import CheckError

MEMBER = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]


# --- metrics -----------------------------------------------------------------------------

def test_perfectly_separable_members_give_tpr_one_at_0_1pct_fpr():
    rng = np.random.default_rng(0)
    # 1000 non-members resolve 0.1% FPR: one non-member may score above the threshold
    scores = np.r_[rng.normal(10, 1, 1000), rng.normal(0, 1, 1000)]
    result = attack_score(scores, MEMBER)
    low = result.at(0.001)
    assert low.resolvable and low.tpr == 1.0
    assert low.lower == pytest.approx((0.025) ** (1 / 1000))  # CP lower bound at k = n
    assert result.auc == 1.0 and result.advantage == 1.0
    assert result.min_resolvable_fpr == 0.001


def test_low_fpr_not_resolvable_from_few_non_members():
    member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    scores = np.random.default_rng(1).normal(size=800)
    result = tpr_at_fpr(scores, member, 0.001)
    assert not result.resolvable and np.isnan(result.tpr)
    assert "not resolvable" in result.reason and "400 non-members" in result.reason
    assert tpr_at_fpr(scores, member, 0.01).resolvable


def test_threshold_counts_by_hand():
    # 200 non-members 0..199; at 1% FPR the threshold is the 2nd highest (floor(0.01*201)-1 = 1)
    scores = np.r_[np.array([198.5, 199.5, 197.0, 250.0]), np.arange(200.0)]
    member = np.r_[np.ones(4, bool), np.zeros(200, bool)]
    result = tpr_at_fpr(scores, member, 0.01)
    assert result.threshold == 198.0
    assert result.true_positives == 3 and result.tpr == 0.75
    assert result.achieved_fpr == 1 / 200


def test_auc_matches_sklearn_and_delong_variance_matches_the_kernel_formula():
    rng = np.random.default_rng(2)
    positives, negatives = rng.normal(0.5, 1, 13).round(1), rng.normal(0, 1, 9).round(1)
    scores, member = np.r_[positives, negatives], np.r_[np.ones(13, bool), np.zeros(9, bool)]
    auc, low, high, _ = delong_interval(scores, member, 0.9)
    assert auc == pytest.approx(roc_auc_score(member, scores))
    psi = (positives[:, None] > negatives[None]) + 0.5 * (positives[:, None] == negatives[None])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    variance = v10.var(ddof=1) / 13 + v01.var(ddof=1) / 9
    assert (high - low) / 2 == pytest.approx(norm.ppf(0.95) * np.sqrt(variance))


def test_same_distribution_intervals_cover_the_fpr_near_their_level():
    """AUC's interval covers 0.5 in about 95% of seeds. The TPR's Clopper-Pearson interval
    at an estimated threshold covers the FPR less often than 95% (the threshold's own error
    is not in it): measured here so that the policy's margin above the FPR stays justified."""
    n_seeds, covered_auc = 300, 0
    covered = {0.01: 0, 0.05: 0}
    member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    for seed in range(n_seeds):
        scores = np.random.default_rng(seed).normal(size=1000)
        result = attack_score(scores, member, fprs=(0.01, 0.05))
        covered_auc += result.auc_lower <= 0.5 <= result.auc_upper
        for fpr in covered:
            at = result.at(fpr)
            covered[fpr] += at.lower <= fpr <= at.upper
    assert 0.92 <= covered_auc / n_seeds <= 0.98
    assert covered[0.01] / n_seeds >= 0.88 and covered[0.05] / n_seeds >= 0.82, covered


def test_best_of_nine_null_attacks_never_crosses_the_warn_level():
    """The verdict's lower bound (Bonferroni over the attacks) on 400 + 400 same-distribution
    records, nine independent attacks (the worst case for picking the best): how often it
    exceeds the policy's warn level of 2% at 1% FPR."""
    from auditkit._stats import clopper_pearson_interval

    member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    crossed = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        results = [tpr_at_fpr(rng.normal(size=800), member, 0.01) for _ in range(9)]
        best = max(range(9), key=lambda i: results[i].tpr)
        low, _ = clopper_pearson_interval(results[best].true_positives, 400, 1 - 0.05 / 9)
        crossed += low > 0.02
    assert crossed / 200 <= 0.025


# --- attacks -----------------------------------------------------------------------------

def test_threshold_scores_by_hand():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 1])
    scores = threshold_scores(proba, labels)
    assert scores["loss"] == pytest.approx(np.log([0.7, 0.1]))
    assert scores["confidence"] == pytest.approx(np.log([0.7 / 0.3, 0.1 / 0.9]))
    # logit scaling still orders records whose true-class probability rounds to 1
    tiny = np.array([[1 - 1e-17, 1e-17], [1 - 1e-18, 1e-18]])
    assert np.diff(threshold_scores(tiny, np.array([0, 0]))["confidence"])[0] > 0
    assert scores["entropy"][0] == pytest.approx(np.sum(proba[0] * np.log(proba[0])))
    mentr = -(1 - 0.1) * np.log(0.1) - (0.1 * np.log(0.9) + 0.8 * np.log(0.2))
    assert scores["modified_entropy"][1] == pytest.approx(-mentr)


def test_lira_matches_gaussians_fitted_directly():
    rng = np.random.default_rng(3)
    k, n = 8, 6
    reference = rng.normal(size=(k, n))
    included = (rng.random((k, n)).argsort(axis=0) < k // 2)
    target = rng.normal(size=n)
    online = lira_online(target, reference, included, fixed_variance=False)
    offline = lira_offline(target, reference, included, fixed_variance=False)
    for i in range(n):
        inside, outside = reference[included[:, i], i], reference[~included[:, i], i]
        expected = (norm.logpdf(target[i], inside.mean(), inside.std(ddof=1))
                    - norm.logpdf(target[i], outside.mean(), outside.std(ddof=1)))
        assert online[i] == pytest.approx(expected)
        assert offline[i] == pytest.approx(-np.log(norm.sf(target[i], outside.mean(),
                                                            outside.std(ddof=1))))
    fixed = lira_online(target, reference, included, fixed_variance=True)
    residual_in = np.concatenate([reference[included[:, i], i] - reference[included[:, i], i].mean()
                                  for i in range(n)])
    residual_out = np.concatenate([reference[~included[:, i], i]
                                   - reference[~included[:, i], i].mean() for i in range(n)])
    s_in = np.sqrt((residual_in ** 2).sum() / (len(residual_in) - n))
    s_out = np.sqrt((residual_out ** 2).sum() / (len(residual_out) - n))
    mu_in = np.array([reference[included[:, i], i].mean() for i in range(n)])
    mu_out = np.array([reference[~included[:, i], i].mean() for i in range(n)])
    assert fixed == pytest.approx(norm.logpdf(target, mu_in, s_in)
                                  - norm.logpdf(target, mu_out, s_out))


def test_rmia_matches_the_pairwise_definition_by_hand():
    rng = np.random.default_rng(4)
    n, m, k = 5, 7, 4
    target_x, target_z = rng.uniform(0.05, 1, n), rng.uniform(0.05, 1, m)
    ref_x, ref_z = rng.uniform(0.05, 1, (k, n)), rng.uniform(0.05, 1, (k, m))
    included = np.array([[1, 0, 1, 0, 1], [0, 1, 0, 1, 0], [1, 1, 0, 0, 1], [0, 0, 1, 1, 0]],
                        bool)
    a, gamma = 0.3, 1.2
    got = rmia_offline(target_x, np.where(included, np.nan, ref_x), target_z, ref_z,
                       offline_a=a, gamma=gamma, break_ties=False)
    for i in range(n):
        out = [ref_x[j, i] for j in range(k) if not included[j, i]]
        pr_x = (1 + a) / 2 * np.mean(out) + (1 - a) / 2
        count = 0
        for z in range(m):
            pr_z = np.mean(ref_z[:, z])
            count += (target_x[i] / pr_x) / (target_z[z] / pr_z) > gamma
        assert got[i] == pytest.approx(count / m)
    broken = rmia_offline(target_x, np.where(included, np.nan, ref_x), target_z, ref_z,
                          offline_a=a, gamma=gamma)
    assert np.all(np.floor(broken * m + 1e-9) == np.round(got * m))  # ties split, order kept


def test_lira_online_gives_records_outside_the_pool_the_pooled_in_shift():
    rng = np.random.default_rng(7)
    k, n = 4, 8
    reference = rng.normal(size=(k, n))
    included = np.zeros((k, n), bool)
    included[:2, :5] = True  # records 5..7 are in no model: OUT in all four
    target = rng.normal(size=n)
    got = lira_online(target, reference, included, fixed_variance=True)
    mu_in = reference[:2].mean(axis=0)
    mu_out = np.r_[reference[2:, :5].mean(axis=0), reference[:, 5:].mean(axis=0)]
    shift = np.mean(mu_in[:5] - mu_out[:5])
    s_in = np.sqrt(((reference[:2, :5] - mu_in[:5]) ** 2).sum() / (10 - 5))
    out_residuals = np.r_[(reference[2:, :5] - mu_out[:5]).ravel(),
                          (reference[:, 5:] - mu_out[5:]).ravel()]
    s_out = np.sqrt((out_residuals ** 2).sum() / (len(out_residuals) - n))
    expected_in = np.r_[mu_in[:5], mu_out[5:] + shift]
    assert got == pytest.approx(norm.logpdf(target, expected_in, s_in)
                                - norm.logpdf(target, mu_out, s_out))


def test_rmia_population_records_in_no_model_get_the_offline_approximation():
    rng = np.random.default_rng(8)
    n, m, k, a = 4, 6, 2, 0.3
    target_x, target_z = rng.uniform(0.05, 1, n), rng.uniform(0.05, 1, m)
    out_x, ref_z = rng.uniform(0.05, 1, (k, n)), rng.uniform(0.05, 1, (k, m))
    z_included = np.zeros((k, m), bool)
    z_included[0, :3] = True  # z 0..2 in model 0, z 3..5 in none
    got = rmia_offline(target_x, out_x, target_z, ref_z, offline_a=a, gamma=1.0,
                       break_ties=False, z_included=z_included)
    pr_z = ref_z.mean(axis=0)
    pr_z[3:] = (1 + a) / 2 * pr_z[3:] + (1 - a) / 2
    pr_x = (1 + a) / 2 * out_x.mean(axis=0) + (1 - a) / 2
    expected = [np.mean((target_x[i] / pr_x[i]) / (target_z / pr_z) > 1.0) for i in range(n)]
    assert got == pytest.approx(expected)


# --- the check ----------------------------------------------------------------------------

def _memoriser(X_train: np.ndarray, y_train: np.ndarray):
    """A black box that is 99% sure of the label of its training rows and 60% elsewhere."""
    known = {row.tobytes(): label for row, label in zip(X_train, y_train, strict=True)}

    def predict_proba(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=X_train.dtype)
        guess = (X[:, 0] > 0).astype(int)
        label = np.array([known.get(row.tobytes(), -1) for row in X])
        sure = label >= 0
        p1 = np.where(guess == 1, 0.6, 0.4)
        p1 = np.where(sure, np.where(label == 1, 0.99, 0.01), p1)
        return np.c_[1 - p1, p1]

    return predict_proba


def _leaky_case(n: int = 300, seed: int = 5):
    rng = np.random.default_rng(seed)
    X_train, X_test = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    y_train, y_test = (X_train[:, 0] > 0).astype(int), (X_test[:, 0] > 0).astype(int)
    return _memoriser(X_train, y_train), AuditData(X_test, y_test, train=(X_train, y_train))


def _run(check, model, data, seed=0, workers=1):
    return check.run(model, data, context=CheckContext(random_state=seed,
                                                       executor=LocalExecutor(workers)))


def test_planted_leak_is_found_with_a_tight_interval(tmp_path):
    model, data = _leaky_case()
    result = _run(PrivacyMembershipInference(cache_dir=str(tmp_path)), wrap_model(model), data)
    metric = result.metrics["tpr_at_1pct_fpr"]
    assert metric.value == 1.0 and metric.lower > 0.97
    assert "Bonferroni over 6 attacks" in metric.method  # no reference attacks for a black box
    assert result.headline.startswith("An attacker who accepts 1 false accusation in 100 "
                                      "identifies 100.0% [")
    gap = result.tables["generalisation_gap"]
    assert gap["loss"].iloc[0] == pytest.approx(-np.log(0.99))
    assert (result.tables["top_records"]["member"]).all()


def test_the_check_on_the_contract_model_is_deterministic_and_round_trips(
        logreg, binary_data, tmp_path):
    check = PrivacyMembershipInference(cache_dir=str(tmp_path))
    first = _run(check, wrap_model(logreg), binary_data, seed=3)
    second = _run(check, wrap_model(logreg), binary_data, seed=3, workers=2)
    assert first.status == Status.INFO
    assert first.metrics == second.metrics
    assert first.tables["attacks"].equals(second.tables["attacks"])
    assert set(first.tables["attacks"]["attack"]) == set(check.attacks)
    # 200 non-members cannot resolve 0.1% FPR
    assert first.tables["attacks"]["tpr_at_0.1pct_fpr"].isna().all()
    assert "tpr_at_0_1pct_fpr" not in first.metrics
    again = CheckResult.from_dict(json.loads(json.dumps(first.to_dict())))
    assert again.metrics == first.metrics
    notes = second.tables["notes"].set_index("item")["value"]
    assert notes["reference models, provenance"].startswith("read from the cache at")
    assert "leak_by_class" in first.tables


def test_black_box_gets_thresholds_and_says_why_not_lira(black_box, binary_data, tmp_path):
    result = _run(PrivacyMembershipInference(cache_dir=str(tmp_path)), wrap_model(black_box),
                  binary_data)
    ran = set(result.tables["attacks"]["attack"])
    assert {"loss", "confidence", "gap"} <= ran and not ran & {"lira_online", "rmia_offline"}
    reasons = result.tables["attacks_not_run"].set_index("attack")["reason"]
    assert reasons["lira_offline"].startswith("LiRA and RMIA need reference models")


def test_torch_model_without_train_fn_is_told_what_to_pass(torch_model, binary_data, tmp_path):
    result = _run(PrivacyMembershipInference(cache_dir=str(tmp_path)),
                  wrap_model(torch_model, device="cpu"), binary_data)
    reasons = result.tables["attacks_not_run"].set_index("attack")["reason"]
    assert "train_fn" in reasons["lira_online"]


def test_skip_without_members(logreg, binary_arrays):
    X, y, _ = binary_arrays
    result = _run(PrivacyMembershipInference(), wrap_model(logreg), AuditData(X, y))
    assert result.status == Status.SKIP and "train=(X_train, y_train)" in result.headline


def test_sensitive_values_masked_unless_asked(tmp_path):
    rng = np.random.default_rng(6)
    X_train, X_test = rng.normal(size=(150, 3)), rng.normal(size=(150, 3))
    y_train, y_test = (X_train[:, 0] > 0).astype(int), (X_test[:, 0] > 0).astype(int)
    sex_train, sex_test = rng.choice(["f", "m"], 150), rng.choice(["f", "m"], 150)
    X_train[:, 2], X_test[:, 2] = sex_train == "f", sex_test == "f"
    data = AuditData(X_test, y_test, sensitive={"sex": sex_test}, feature_names=["a", "b", "sex"],
                     train=(X_train, y_train, {"sex": sex_train}))
    model = wrap_model(LogisticRegression().fit(X_train, y_train))
    options = {"attacks": ("loss", "gap"), "cache_dir": str(tmp_path)}
    masked = _run(PrivacyMembershipInference(**options), model, data).tables
    assert (masked["top_records"]["sex"] == "***").all()
    assert (masked["top_records"]["sensitive:sex"] == "***").all()
    shown = _run(PrivacyMembershipInference(show_sensitive=True, **options), model, data).tables
    assert set(shown["top_records"]["sensitive:sex"]) <= {"f", "m"}
    groups = masked["leak_by_group"]
    assert set(groups["group"]) == {"f", "m"} and groups["n_members"].sum() == 150


def test_image_model_gets_a_figure_of_top_records(image_case, tmp_path):
    model, data = image_case
    half = data.n_samples // 2
    split = AuditData(data.X[:half], data.y[:half], train=(data.X[half:], data.y[half:]),
                      modality="image")
    result = _run(PrivacyMembershipInference(cache_dir=str(tmp_path), n_top_records=4),
                  wrap_model(model, device="cpu"), split)
    figure = result.figures["top_records"]
    assert figure.kind == "membership_top_records" and len(figure.data["images"]) == 4
    assert "lira_online" in result.tables["attacks_not_run"]["attack"].tolist()
    assert "tpr_at_1pct_fpr" not in result.metrics  # 45 non-members cannot resolve 1%
    assert "not resolvable" in result.headline


@pytest.mark.parametrize("case", ["text_case", "sequence_case"])
def test_text_and_sequence_models_run_with_their_reasons(case, request, tmp_path):
    model, data = request.getfixturevalue(case)
    half = data.n_samples // 2
    split = AuditData(data.X[:half], data.y[:half], train=(data.X[half:], data.y[half:]),
                      modality=data.modality)
    result = _run(PrivacyMembershipInference(cache_dir=str(tmp_path)),
                  wrap_model(model, device="cpu"), split)
    assert result.status == Status.INFO
    assert len(result.tables["top_records"]) == 10
    skipped = result.tables["attacks_not_run"].set_index("attack")["reason"]
    if case == "text_case":
        assert "does not apply to text inputs" in skipped["noise_robustness"]


def test_black_box_asked_only_for_reference_attacks_skips_with_the_reason(black_box,
                                                                          binary_data):
    check = PrivacyMembershipInference(attacks=("lira_offline",))
    result = _run(check, wrap_model(black_box), binary_data)
    assert result.status == Status.SKIP and "lira_offline: LiRA and RMIA need" in result.headline


@pytest.mark.parametrize("options, match", [
    ({"n_reference_models": 3}, "even"),
    ({"attacks": ("loss", "nope")}, "attacks"),
    ({"rmia_offline_a": 1.5}, "rmia_offline_a"),
])
def test_bad_options_name_the_option(options, match):
    with pytest.raises(CheckError, match=match):
        PrivacyMembershipInference(**options)


def test_notes_give_the_reference_training_size(tmp_path):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(340, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=340) > 0).astype(int)
    data = AuditData(X[40:], y[40:], train=(X[:40], y[:40]))
    model = wrap_model(LogisticRegression().fit(X[:40], y[:40]))
    check = PrivacyMembershipInference(n_reference_models=2, cache_dir=str(tmp_path),
                                       attacks=("loss", "lira_online", "rmia_offline"))
    notes = _run(check, model, data).tables["notes"].set_index("item")["value"]
    assert notes["reference training-set size"] == ("40 records per reference model (the "
                                                    "audited model's training-set size)")
    # 40 members and 150 non-members scored, a pool of 80: 110 scored records in no model
    assert notes["online LiRA"].startswith("110 scored records are in no reference model's")
    explicit = PrivacyMembershipInference(n_reference_models=2, cache_dir=str(tmp_path),
                                          attacks=("lira_offline",), reference_train_size=60)
    notes = _run(explicit, model, data).tables["notes"].set_index("item")["value"]
    assert notes["reference training-set size"] == ("60 records per reference model; the "
                                                    "audited model was trained on 40")


def test_top_records_of_text_show_the_text(text_case, tmp_path):
    model, data = text_case
    texts = [f"review number {i} " + "very " * 30 + "good" for i in range(data.n_samples)]
    half = data.n_samples // 2
    split = AuditData(data.X[:half], data.y[:half], train=(data.X[half:], data.y[half:]),
                      modality=data.modality, texts=texts[:half])
    check = PrivacyMembershipInference(attacks=("loss",), n_top_records=40)
    top = _run(check, wrap_model(model, device="cpu"), split).tables["top_records"]
    members, others = top[top["member"]], top[~top["member"]]
    assert len(members) and len(others)
    assert (members["text"] == "(member text not supplied)").all()
    for row, text in zip(others["source_row"], others["text"], strict=True):
        assert len(text) == 80 and text.endswith("\u2026")
        assert text[:-1] == texts[row][:79]


def test_attribute_inference_gain_when_the_outputs_carry_the_sensitive_feature():
    """The model's label is the sensitive feature (90% of the time), which no other feature
    tells: from the other features balanced accuracy is about 1/2, with the outputs about
    0.9. A feature the outputs do not carry gains nothing."""
    from auditkit.checks import PrivacyAttributeInference

    rng = np.random.default_rng(10)
    n = 600
    group = rng.integers(0, 2, n)
    unrelated = rng.integers(0, 3, n)
    X = np.c_[rng.normal(size=(n, 2)), group].astype(np.float64)
    y = np.where(rng.random(n) < 0.9, group, 1 - group)
    sensitive = pd.DataFrame({"group": group, "unrelated": unrelated})
    data = AuditData(X[300:], y[300:], sensitive=sensitive.iloc[300:],
                     train=(X[:300], y[:300], sensitive.iloc[:300]), modality="tabular",
                     feature_names=["a", "b", "group"])
    model = wrap_model(LogisticRegression().fit(X[:300], y[:300]))
    result = _run(PrivacyAttributeInference(n_resamples=300), model, data)
    table = result.tables["attribute_inference"].set_index("feature")
    leak, none = table.loc["group"], table.loc["unrelated"]
    assert 0.4 < leak["baseline"] < 0.6 and leak["with_outputs"] > 0.85
    assert leak["gain_lower"] > 0.25
    assert none["gain_lower"] < 0.0 < none["gain_upper"] + 0.02
    metric = result.metrics["attribute_inference_gain"]
    assert metric.value == pytest.approx(leak["gain"]) and result.status == Status.INFO
    assert "group is inferred" in result.headline
    skipped = _run(PrivacyAttributeInference(), model,
                   AuditData(X[300:], y[300:], train=(X[:300], y[:300])))
    assert skipped.status == Status.SKIP and "sensitive_train" in skipped.headline
