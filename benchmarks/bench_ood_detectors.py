"""OOD detectors: auditkit's against pytorch-ood's, on the same logits and features.

Both libraries score the same inputs of the zoo CNN (mnist-cnn): fitted on
5,000 reference images (the 4,000 training images and 1,000 of them shifted
by one pixel), scoring the 1,000 MNIST test images and 1,000 Fashion-MNIST
images. Logits and penultimate features are extracted once and handed to
both; ODIN alone reads the images (and the model) in both. For each detector
the script reports the largest score difference (after the scale factor
between the two definitions where there is one), Spearman's rank
correlation, both AUROCs, and the time of fit + score of each library and
their ratio (auditkit / pytorch-ood).

Differences in definition, on purpose:

- GEN: auditkit sums over the top-M classes as the paper and its authors' code
  do, pytorch-ood averages (compared after the factor M) and first clamps the
  probabilities to [1e-7, 1 - 1e-7], which changes scores where the model puts
  less than 1e-7 on a class (with gamma = 0.1, 1e-7 counts 0.2); the row
  ``gen_clamped`` applies auditkit's GEN to clamped probabilities;
- Mahalanobis / Relative Mahalanobis: pytorch-ood's covariance is the sum of
  outer products (not divided by n) plus a 1e-6 ridge, and its Mahalanobis
  score is half the distance; auditkit divides by n (Lee et al.) and takes
  the pseudo-inverse (as the authors' code does through scikit-learn's
  EmpiricalCovariance), so scores are compared after the factor 2n (n for
  RMD); they differ where the reference features have directions without
  variance (the CNN's dead ReLU units), which the ridge weighs by 1e6 and the
  pseudo-inverse leaves out;
- ViM: auditkit recovers W, b by least squares from reference features and
  logits; pytorch-ood is given the model's head (the benchmark checks both agree);
- both use the model's predicted classes as the class labels of the reference rows.

pytorch-ood (0.4.0) imports torchvision in its package ``__init__``, which is
not installed here; its detector modules do not, so the script registers
empty parent packages and imports the detector modules themselves. Get the
source (benchmark-only, never an auditkit dependency)::

    pip download --no-deps pytorch-ood -d /tmp/pood
    unzip /tmp/pood/pytorch_ood-*.whl -d /tmp/pood/src
    python benchmarks/bench_ood_detectors.py --pytorch-ood /tmp/pood/src

Then the check end to end (all detectors, 1,000 bootstrap resamples) with the
same sizes, model outputs included, and its time without ODIN; and the feature
detectors' memory with 100,000 synthetic reference rows (distances chunked).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import types

import numpy as np
import torch
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from auditkit import AuditData, CheckContext, get_check, wrap_model, zoo
from auditkit.checks.ood._common import ModelOutputs
from auditkit.checks.ood._detectors import make_detector


def _import_pytorch_ood(source: str) -> types.SimpleNamespace:
    root = f"{source}/pytorch_ood"
    for name, path in (("pytorch_ood", root), ("pytorch_ood.detector", f"{root}/detector")):
        module = types.ModuleType(name)
        module.__path__ = [path]  # type: ignore[attr-defined]
        sys.modules.setdefault(name, module)
    found = {}
    for module, cls in (("softmax", "MaxSoftmax"), ("entropy", "Entropy"), ("gen", "GEN"),
                        ("maxlogit", "MaxLogit"), ("energy", "EnergyBased"), ("odin", "ODIN"),
                        ("mahalanobis", "Mahalanobis"), ("rmd", "RMD"), ("knn", "KNN"),
                        ("vim", "ViM"), ("react", "ReAct")):
        found[cls] = getattr(importlib.import_module(f"pytorch_ood.detector.{module}"), cls)
    return types.SimpleNamespace(**found)


def _data() -> tuple[torch.nn.Module, AuditData, np.ndarray, np.ndarray, np.ndarray]:
    module, data = zoo.load("mnist-cnn")
    train = np.asarray(data.train.X)
    shifted = np.roll(train[:1000], 1, axis=-1)
    reference = np.concatenate([train, shifted])
    return module, data, reference, np.asarray(data.X[:1000]), \
        np.asarray(data.ood["fashion-mnist"][:1000])


def _timed(function, repeats: int):
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return value, best


def compare(source: str, repeats: int) -> None:
    """Each detector side by side: score agreement and time."""
    pood = _import_pytorch_ood(source)
    module, _, reference_X, id_X, ood_X = _data()
    adapter = wrap_model(module, device="cpu")

    def outputs(X: np.ndarray) -> ModelOutputs:
        logits = adapter.logits(X)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        return ModelOutputs(proba / proba.sum(axis=1, keepdims=True), logits, adapter.features(X))

    (reference, scored), extract = _timed(
        lambda: (outputs(reference_X), outputs(np.concatenate([id_X, ood_X]))), 1)
    print(f"model outputs (logits + features) of {len(reference_X) + 2000:,} images: "
          f"{extract:.2f} s")
    labels = torch.from_numpy(reference.proba.argmax(axis=1))
    z_ref = torch.from_numpy(reference.features).float()
    z = torch.from_numpy(scored.features).float()
    logits = torch.from_numpy(scored.logits).float()
    head = module.head
    weight, bias = head.weight.detach(), head.bias.detach()
    n = len(reference_X)
    X_scored = torch.from_numpy(np.concatenate([id_X, ood_X]))

    def peer(name: str):
        if name == "msp":
            return lambda: pood.MaxSoftmax.score(logits)
        if name == "entropy":
            return lambda: pood.Entropy.score(logits)
        if name in ("gen", "gen_clamped"):
            return lambda: pood.GEN.score(logits, gamma=0.1) * logits.shape[1]
        if name == "max_logit":
            return lambda: pood.MaxLogit.score(logits)
        if name == "energy":
            return lambda: pood.EnergyBased.score(logits)
        if name == "odin":
            detector = pood.ODIN(module.eval(), eps=0.0014, temperature=1000.0)
            return lambda: torch.cat([detector.predict(X_scored[i:i + 512])
                                      for i in range(0, len(X_scored), 512)])
        if name == "mahalanobis":
            return lambda: pood.Mahalanobis(None).fit_features(z_ref, labels) \
                .predict_features(z) * 2 * n
        if name == "relative_mahalanobis":
            return lambda: pood.RMD(None).fit_features(z_ref, labels).predict_features(z) * n
        if name == "knn":
            return lambda: pood.KNN(None, k=50).fit_features(z_ref, labels).predict_features(z)
        if name == "vim":
            return lambda: pood.ViM(None, d=64, w=weight, b=bias).fit_features(
                z_ref, labels).predict_features(z)
        if name == "react":
            return lambda: pood.ReAct(None, head, percentile=0.9).fit_feature_maps(
                z_ref, labels).predict_feature_maps(z)
        raise KeyError(name)

    def ours(name: str):
        if name == "gen_clamped":  # pytorch-ood clamps p to [1e-7, 1 - 1e-7] first
            clamped = ModelOutputs(np.clip(scored.proba, 1e-7, 1 - 1e-7), None, None)
            return lambda: make_detector("gen").score(clamped)
        options = {"vim": {"dim": 64}, "knn": {"k": 50}}.get(name, {})
        detector = make_detector(name, **options)
        if detector.reads_inputs:
            X = X_scored.numpy()
            bounds = (np.zeros(X.shape[1:]), np.ones(X.shape[1:]))
            return lambda: detector.fit(reference).score_inputs(adapter, X, bounds=bounds)
        return lambda: detector.fit(reference).score(scored)

    truth = np.r_[np.zeros(len(id_X)), np.ones(len(ood_X))]
    print(f"\n{'detector':<22}{'max |diff|':>11}{'rel. diff':>11}{'spearman':>10}"
          f"{'AUROC ours':>12}{'AUROC peer':>12}{'ours s':>9}{'peer s':>9}{'ratio':>7}")
    with torch.inference_mode(False):
        for name in ("msp", "entropy", "gen", "gen_clamped", "max_logit", "energy", "odin",
                     "mahalanobis", "relative_mahalanobis", "knn", "vim", "react"):
            with torch.no_grad() if name != "odin" else torch.enable_grad():
                theirs, peer_time = _timed(peer(name), 1 if name == "odin" else repeats)
            mine, our_time = _timed(ours(name), 1 if name == "odin" else repeats)
            theirs = np.asarray(theirs, dtype=np.float64)
            difference = np.abs(mine - theirs).max()
            relative = difference / max(np.abs(theirs).max(), 1e-12)
            rho = spearmanr(mine, theirs).statistic
            print(f"{name:<22}{difference:>11.2e}{relative:>11.2e}{rho:>10.6f}"
                  f"{roc_auc_score(truth, mine):>12.4f}{roc_auc_score(truth, theirs):>12.4f}"
                  f"{our_time:>9.3f}{peer_time:>9.3f}{our_time / peer_time:>7.2f}")


def end_to_end() -> None:
    """The check with every detector: 5,000 reference, 1,000 + 1,000 scored.

    Run twice on one context: the first run extracts the model outputs, the
    second reads them shared (as a second OOD check of the audit would) and
    times the detectors, the metrics and their 1,000 bootstrap resamples.
    """
    module, data, reference_X, id_X, ood_X = _data()
    audit = AuditData(id_X, data.y[:1000], reference=reference_X, ood={"fashion-mnist": ood_X},
                      modality="image", input_range=(0.0, 1.0))
    adapter = wrap_model(module, device="cpu")
    for detectors in (None, ("msp", "entropy", "gen", "max_logit", "energy", "mahalanobis",
                             "relative_mahalanobis", "knn", "vim", "react")):
        context = CheckContext(random_state=0)
        check = get_check("ood_detection", detectors=detectors, max_reference=5000)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            result = check.run(adapter, audit, context=context)
            times.append(time.perf_counter() - start)
        what = "all 11 detectors" if detectors is None else "all but ODIN"
        print(f"\nood_detection end to end, {what}: {times[0]:.2f} s; with the model outputs "
              f"already shared: {times[1]:.2f} s")
        print(result.headline)
        table = result.tables["detection"]
    print(table[["detector", "auroc", "auroc_lower", "auroc_upper", "fpr_at_95_tpr"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def large_reference(n: int = 100_000, width: int = 128) -> None:
    """Memory and time of the feature detectors fitted on ``n`` synthetic reference rows."""
    import resource

    rng = np.random.default_rng(0)
    features = np.maximum(rng.normal(size=(n, width)), 0.0)
    logits = features @ rng.normal(size=(10, width)).T
    proba = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    reference = ModelOutputs(proba, logits, features)
    queries = ModelOutputs(proba[:2000], logits[:2000], features[:2000])

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB on Linux

    print(f"\n{n:,} reference rows x {width} features; peak RSS before: {peak():.0f} MB")
    for name in ("mahalanobis", "relative_mahalanobis", "knn", "vim", "react"):
        start = time.perf_counter()
        make_detector(name).fit(reference).score(queries)
        print(f"{name:<22} fit + score 2,000 rows: {time.perf_counter() - start:6.2f} s, "
              f"peak RSS {peak():.0f} MB")


def main() -> None:
    """Run the comparison and the end-to-end timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytorch-ood", default="/tmp/pood/src",
                        help="directory holding the unpacked pytorch_ood package")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compare(args.pytorch_ood, args.repeats)
    end_to_end()
    large_reference()


if __name__ == "__main__":
    main()
