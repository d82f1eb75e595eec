"""The ood_detection check and its detectors and metrics.

Detectors against their formulas worked out in numpy on a tiny fixed model;
metrics against scikit-learn; chunked distances against unchunked ones; which
detectors run on a black box and on text; the zoo's MNIST CNN against
Fashion-MNIST; the JSON round trip.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors
from torch import nn

from auditkit import AuditData, CheckContext, CheckResult, Status, get_check, wrap_model
from auditkit.checks.ood import _detectors as detectors_module
from auditkit.checks.ood._common import NO_OOD_SETS, ModelOutputs
from auditkit.checks.ood._detectors import (
    NO_TOKEN_GRADIENTS,
    DetectorUnavailable,
    kth_neighbour_distance,
    make_detector,
)
from auditkit.checks.ood._metrics import detection_metrics
from auditkit.exceptions import CheckError

# -- a tiny fixed model: features f = relu(A x + a), logits z = W f + b ----------------------

A = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.5]])
A_BIAS = np.array([0.1, -0.2, 0.3])
W = np.array([[1.0, -2.0, 0.5], [-1.0, 1.0, 2.0]])
W_BIAS = np.array([0.2, -0.1])


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 3)
        self.head = nn.Linear(3, 2)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.tensor(A))
            self.hidden.bias.copy_(torch.tensor(A_BIAS))
            self.head.weight.copy_(torch.tensor(W))
            self.head.bias.copy_(torch.tensor(W_BIAS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(x)))


def _outputs(X: np.ndarray) -> ModelOutputs:
    f = np.maximum(X @ A.T + A_BIAS, 0.0)
    z = f @ W.T + W_BIAS
    p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    return ModelOutputs(p, z, f)


REFERENCE_X = np.random.default_rng(0).normal(size=(60, 2))
QUERIES_X = np.array([[0.5, -0.3], [2.0, 1.0], [-1.5, 0.4]])


def test_probability_and_logit_detectors_by_hand():
    # z = [0, ln 3]: p = [1/4, 3/4].
    z = np.array([[0.0, np.log(3.0)]])
    out = ModelOutputs(np.array([[0.25, 0.75]]), z, None)
    assert make_detector("msp").score(out)[0] == pytest.approx(-0.75)
    assert make_detector("entropy").score(out)[0] == pytest.approx(
        -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert make_detector("max_logit").score(out)[0] == pytest.approx(-np.log(3.0))
    assert make_detector("energy").score(out)[0] == pytest.approx(-np.log(4.0))
    # T = 2: -2 log(1 + sqrt 3)
    assert make_detector("energy", temperature=2.0).score(out)[0] == pytest.approx(
        -2.0 * np.log(1.0 + np.sqrt(3.0)))
    assert make_detector("gen", gamma=0.1).score(out)[0] == pytest.approx(
        2.0 * (0.25 * 0.75) ** 0.1)
    three = ModelOutputs(np.array([[0.6, 0.3, 0.1]]), None, None)
    assert make_detector("gen", gamma=0.5, top_m=2).score(three)[0] == pytest.approx(
        (0.6 * 0.4) ** 0.5 + (0.3 * 0.7) ** 0.5)


def test_feature_detectors_match_their_formulas():
    reference, queries = _outputs(REFERENCE_X), _outputs(QUERIES_X)
    f_ref, f = reference.features, queries.features
    classes = reference.proba.argmax(axis=1)
    means = np.stack([f_ref[classes == c].mean(axis=0) for c in np.unique(classes)])
    centred = f_ref - means[np.searchsorted(np.unique(classes), classes)]
    precision = np.linalg.inv(centred.T @ centred / len(f_ref))
    d = np.stack([np.einsum("ij,jk,ik->i", f - m, precision, f - m) for m in means], axis=1)
    mahalanobis = make_detector("mahalanobis").fit(reference).score(queries)
    np.testing.assert_allclose(mahalanobis, d.min(axis=1), rtol=1e-8)

    mu0 = f_ref.mean(axis=0)
    precision0 = np.linalg.inv(np.cov(f_ref.T, bias=True))
    d0 = np.einsum("ij,jk,ik->i", f - mu0, precision0, f - mu0)
    relative = make_detector("relative_mahalanobis").fit(reference).score(queries)
    np.testing.assert_allclose(relative, d.min(axis=1) - d0, rtol=1e-7, atol=1e-9)

    unit = f_ref / np.linalg.norm(f_ref, axis=1, keepdims=True)
    distances, _ = NearestNeighbors(n_neighbors=5).fit(unit).kneighbors(
        f / np.linalg.norm(f, axis=1, keepdims=True))
    np.testing.assert_allclose(make_detector("knn", k=5).fit(reference).score(queries),
                               distances[:, -1], atol=1e-7)

    threshold = np.percentile(f_ref, 80)
    clipped = np.minimum(f, threshold) @ W.T + W_BIAS
    np.testing.assert_allclose(make_detector("react", percentile=80.0).fit(reference)
                               .score(queries), -logsumexp(clipped, axis=1), rtol=1e-8)


def test_mahalanobis_leaves_out_directions_without_variance():
    # A dead unit (always 0 in the reference): Lee et al.'s code takes the pseudo-inverse
    # through scikit-learn's EmpiricalCovariance; a query that lights the unit up is not
    # sent to infinity.
    from sklearn.covariance import EmpiricalCovariance

    rng = np.random.default_rng(2)
    features = np.c_[rng.normal(size=(80, 3)), np.zeros(80)]
    proba = np.where((features[:, 0] > 0)[:, None], [0.2, 0.8], [0.9, 0.1])
    reference = ModelOutputs(proba, None, features)
    classes = proba.argmax(axis=1)
    means = np.stack([features[classes == c].mean(axis=0) for c in (0, 1)])
    precision = EmpiricalCovariance(assume_centered=True).fit(
        features - means[classes]).precision_
    queries = np.array([[0.1, 0.2, -0.3, 5.0], [1.0, -1.0, 0.5, 0.0]])
    d = np.stack([np.einsum("ij,jk,ik->i", queries - m, precision, queries - m)
                  for m in means], axis=1)
    scored = ModelOutputs(np.tile([0.5, 0.5], (2, 1)), None, queries)
    np.testing.assert_allclose(make_detector("mahalanobis").fit(reference).score(scored),
                               d.min(axis=1), rtol=1e-8)


def test_vim_recovers_the_head_and_matches_its_formula():
    reference, queries = _outputs(REFERENCE_X), _outputs(QUERIES_X)
    vim = make_detector("vim", dim=1).fit(reference)
    np.testing.assert_allclose(vim.weight_, W, atol=1e-8)
    np.testing.assert_allclose(vim.bias_, W_BIAS, atol=1e-8)
    u = -np.linalg.pinv(W) @ W_BIAS
    x = reference.features - u
    _, vectors = np.linalg.eigh(x.T @ x / len(x))
    null = vectors[:, :2]  # D - dim = 2 smallest directions
    alpha = reference.logits.max(axis=1).mean() / np.linalg.norm(x @ null, axis=1).mean()
    expected = (alpha * np.linalg.norm((queries.features - u) @ null, axis=1)
                - logsumexp(queries.logits, axis=1))
    np.testing.assert_allclose(vim.score(queries), expected, rtol=1e-7)


def test_vim_and_react_are_left_out_when_the_head_is_not_linear():
    reference = _outputs(REFERENCE_X)
    bent = ModelOutputs(reference.proba, reference.logits ** 2, reference.features)
    for name in ("vim", "react"):
        with pytest.raises(DetectorUnavailable, match="not linear in them"):
            make_detector(name).fit(bent)


def test_odin_matches_the_analytic_gradient_step():
    model = nn.Linear(2, 3)
    weight = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]])
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weight))
        model.bias.zero_()
    adapter = wrap_model(model, device="cpu")
    X = np.array([[0.2, 0.1], [-0.5, 0.4], [1.0, -1.0]], dtype=np.float32)
    t, eps = 10.0, 0.05
    z = X @ weight.T / t
    p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    top = p.argmax(axis=1)
    # d/dx of -log S_top(x; T) = -(W_top - p W) / T
    gradient = -(weight[top] - p @ weight) / t
    bounds = (np.zeros(2), np.full(2, 2.0))  # range 2: the step is 2 eps
    moved = X - eps * 2.0 * np.sign(gradient)
    zm = moved @ weight.T / t
    expected = -np.exp(zm - logsumexp(zm, axis=1, keepdims=True)).max(axis=1)
    odin = make_detector("odin", temperature=t, eps=eps)
    np.testing.assert_allclose(odin.score_inputs(adapter, X, bounds=bounds), expected, rtol=1e-5)


def test_chunked_distances_equal_unchunked(monkeypatch):
    rng = np.random.default_rng(1)
    reference, queries = rng.normal(size=(500, 6)), rng.normal(size=(37, 6))
    whole = kth_neighbour_distance(queries, reference, 7, chunk_values=10**9)
    np.testing.assert_allclose(kth_neighbour_distance(queries, reference, 7, chunk_values=600),
                               whole, rtol=1e-12)
    outputs = ModelOutputs(np.tile([0.3, 0.7], (500, 1)), None, reference)
    detector = make_detector("mahalanobis").fit(outputs)
    scored = ModelOutputs(np.tile([0.3, 0.7], (37, 1)), None, queries)
    expected = detector.score(scored)
    monkeypatch.setattr(detectors_module, "CHUNK_VALUES", 13)
    np.testing.assert_allclose(make_detector("mahalanobis").fit(outputs).score(scored),
                               expected, rtol=1e-10)


# -- metrics ----------------------------------------------------------------------------


def test_metrics_follow_scikit_learn_conventions():
    rng = np.random.default_rng(3)
    id_scores = np.round(rng.normal(0.0, 1.0, 400), 1)  # rounded: many ties
    ood_scores = np.round(rng.normal(1.0, 1.0, 250), 1)
    found = detection_metrics(id_scores, ood_scores, n_resamples=0)
    is_ood = np.r_[np.zeros(400), np.ones(250)]
    scores = np.r_[id_scores, ood_scores]
    assert found.values["auroc"] == pytest.approx(roc_auc_score(is_ood, scores))
    assert found.values["aupr_out"] == pytest.approx(average_precision_score(is_ood, scores))
    assert found.values["aupr_in"] == pytest.approx(average_precision_score(1 - is_ood, -scores))
    fpr, tpr, _ = roc_curve(1 - is_ood, -scores, drop_intermediate=False)
    at = np.searchsorted(tpr, 0.95, side="left")
    assert found.values["fpr_at_95_tpr"] == pytest.approx(fpr[at])
    assert found.values["detection_accuracy"] == pytest.approx(0.5 * (tpr[at] + 1 - fpr[at]))


def test_metric_intervals_cover_the_true_auroc():
    # Normal scores 1 sd apart: AUROC = Phi(1 / sqrt 2) = 0.7602.
    rng = np.random.default_rng(4)
    covered = 0
    for _ in range(40):
        found = detection_metrics(rng.normal(size=150), rng.normal(1.0, 1.0, 100),
                                  n_resamples=300, rng=rng)
        covered += found.lower["auroc"] <= 0.7602 <= found.upper["auroc"]
    assert covered >= 34  # 95% nominal: 38 of 40 expected


def test_same_distribution_gives_auroc_intervals_around_one_half():
    # The false-alarm rate of "detects OOD": an "OOD" set drawn like the ID set.
    rng = np.random.default_rng(5)
    above = 0
    for _ in range(40):
        found = detection_metrics(rng.normal(size=200), rng.normal(size=120), n_resamples=300,
                                  rng=rng)
        above += found.lower["auroc"] > 0.5
    assert above <= 4  # 2.5% nominal: 1 of 40 expected


# -- the check --------------------------------------------------------------------------


def _run(check, adapter, data, seed=0, n_workers=1):
    from auditkit.checks import LocalExecutor

    context = CheckContext(random_state=seed, executor=LocalExecutor(n_workers))
    return check.run(adapter, data, context=context)


def _strict_json(result: CheckResult) -> CheckResult:
    return CheckResult.from_dict(json.loads(json.dumps(result.to_dict(), allow_nan=False)))


def test_skips_without_ood_sets(binary_data, torch_model):
    result = _run(get_check("ood_detection"), wrap_model(torch_model, device="cpu"), binary_data)
    assert result.status is Status.SKIP
    assert result.headline == NO_OOD_SETS


def test_bad_option_names_the_option():
    with pytest.raises(CheckError, match="'k' option of check 'ood_detection'.*Got 0 instead"):
        get_check("ood_detection", k=0)
    with pytest.raises(CheckError, match="'detectors' option"):
        get_check("ood_detection", detectors=("msp", "nope"))


def test_black_box_gets_only_probability_detectors(binary_data, black_box, make_binary):
    shifted, _, _ = make_binary(n=120, seed=5)
    data = AuditData(binary_data.X, binary_data.y, train=(binary_data.train.X,
                                                           binary_data.train.y),
                     ood={"shifted": shifted * 3.0 + 4.0})
    result = _run(get_check("ood_detection", n_resamples=50), wrap_model(black_box), data)
    assert result.status is Status.INFO
    assert set(result.tables["detection"]["detector"]) == {"msp", "entropy", "gen"}
    left_out = result.tables["unavailable"]
    assert set(left_out["detector"]) == {"max_logit", "energy", "odin", "mahalanobis",
                                         "relative_mahalanobis", "knn", "vim", "react"}
    assert left_out["reason"].str.contains("which this callable model does not give").all()


def test_text_model_leaves_odin_out_with_the_reason(text_case):
    model, data = text_case
    tokenizer = data.tokenizer
    texts = ["the weather is cold", "stock prices fell", "a new phone is out", "rain again"] * 5
    ood_data = AuditData(data.X, data.y, modality="text", texts=data.texts, tokenizer=tokenizer,
                         ood={"news": tokenizer(texts)}, ood_texts={"news": texts})
    result = _run(get_check("ood_detection", detectors=("msp", "odin", "knn"), n_resamples=50,
                            n_examples=2), wrap_model(model, device="cpu"), ood_data)
    left_out = result.tables["unavailable"].set_index("detector")["reason"]
    assert left_out["odin"] == NO_TOKEN_GRADIENTS
    assert list(result.tables["detection"]["detector"]) == ["msp", "knn"]
    assert set(result.tables["ood_examples"]["text"]) <= set(texts)
    # No reference and no training inputs: fitted on half the audited samples.
    assert result.tables["notes"]["note"].str.contains("seeded half").any()


@pytest.mark.parametrize("kind", ["torch", "sklearn", "image", "sequence"])
def test_runs_on_every_kind_of_model_and_round_trips(kind, contract_cases):
    import dataclasses

    from auditkit.report._plots import draw

    adapter, data = contract_cases[kind]
    rng = np.random.default_rng(7)
    far = (rng.uniform(size=(40, *data.X.shape[1:])) * 3.0).astype(data.X.dtype)
    shifted = dataclasses.replace(data, ood={"far": far, "near": data.X[:30] + 0.5},
                                  ood_kinds={"near": "near"})
    check = get_check("ood_detection", n_resamples=50, k=5, n_examples=3)
    first, second = (_run(check, adapter, shifted, n_workers=n) for n in (1, 2))
    assert first.status is Status.INFO
    assert json.dumps(first.to_dict(), sort_keys=True) == json.dumps(second.to_dict(),
                                                                     sort_keys=True)
    assert _strict_json(first) == first
    table = first.tables["detection"]
    assert set(table["kind"]) == {"far", "near"}
    assert {"best_auroc", "best_fpr_at_95_tpr", "auroc_far", "fpr_at_95_tpr_near"} <= set(
        first.metrics)
    assert (table["auroc_lower"] <= table["auroc"]).all()
    assert (table["auroc"] <= table["auroc_upper"]).all()
    for figure in first.figures.values():
        draw(figure)


def test_finds_fashion_mnist_on_the_mnist_cnn():
    from auditkit import zoo

    module, data = zoo.load("mnist-cnn")
    check = get_check("ood_detection", max_reference=1000, n_samples=400, n_resamples=200,
                      n_examples=4)
    result = _run(check, wrap_model(module, device="cpu"), data)
    table = result.tables["detection"].set_index("detector")
    # Measured (seed 0): best ViM 0.99, Mahalanobis 0.98, KNN 0.97, MSP 0.93, Energy 0.88.
    assert result.metrics["best_auroc"].value > 0.95
    assert result.metrics["best_auroc"].lower > 0.9
    assert table.loc["msp", "auroc"] > 0.85
    assert table.loc["mahalanobis", "auroc"] > 0.95
    assert result.metrics["best_fpr_at_95_tpr"].value < 0.2
    assert len(table) == 11 and "unavailable" not in result.tables
    best = table["auroc"].idxmax()
    assert result.headline.startswith(make_detector(best).label)
    assert result.figures["examples"].data["images"].shape == (4, 28, 28)
    back = _strict_json(result)
    assert back == result
    assert back.metrics["best_auroc"].lower == result.metrics["best_auroc"].lower
