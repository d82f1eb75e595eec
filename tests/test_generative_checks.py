"""The generative checks on toy generators whose truth is known.

A mixture of four Gaussian classes in 8 dimensions; a nearest-centre
classifier (a two-layer torch module whose first layer is the identity, so
its penultimate features are the inputs) labels and embeds samples. Toy
generators draw fresh samples from the mixture (the clean case), copy
training points with a little noise (memorisation), or cover two of the four
classes (mode collapse). Each verdict comes from the default policy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from auditkit import AuditData, audit
from auditkit.checks import (
    CheckContext,
    GenerativeAutoencoder,
    GenerativeCoverage,
    GenerativeFidelity,
    GenerativeMembership,
    GenerativeMemorisation,
)
from auditkit.inputs import GenerativeModel, wrap_model
from auditkit.results import Status

DIM, N_CLASSES = 8, 4
CENTRES = np.random.default_rng(42).normal(scale=3.0, size=(N_CLASSES, DIM))


def mixture(n: int, rng: np.random.Generator, classes=range(N_CLASSES)
            ) -> tuple[np.ndarray, np.ndarray]:
    classes = np.asarray(list(classes))
    y = classes[rng.integers(len(classes), size=n)]
    return (CENTRES[y] + rng.normal(size=(n, DIM))).astype(np.float32), y


def classifier() -> nn.Module:
    net = nn.Sequential(nn.Linear(DIM, DIM), nn.Linear(DIM, N_CLASSES))
    centres = torch.as_tensor(CENTRES, dtype=torch.float32)
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(DIM))
        net[0].bias.zero_()
        net[1].weight.copy_(2 * centres)
        net[1].bias.copy_(-(centres**2).sum(1))
    return net


class Toy(GenerativeModel):
    """A generative model drawing from ``draw(n, rng)``."""

    def __init__(self, draw) -> None:
        super().__init__()
        self._draw = draw

    def sample(self, n: int, *, random_state: int = 0) -> np.ndarray:
        return self._draw(n, np.random.default_rng(random_state))


def toy_data(seed: int = 0, n_train: int = 600, n_test: int = 400) -> AuditData:
    rng = np.random.default_rng(seed)
    X_train, y_train = mixture(n_train, rng)
    X_test, y_test = mixture(n_test, rng)
    return AuditData(X_test, y_test, train=(X_train, y_train), feature_extractor=classifier(),
                     name="four Gaussian classes")


def fresh() -> Toy:
    return Toy(lambda n, rng: mixture(n, rng)[0])


def copying(data: AuditData, noise: float = 0.01) -> Toy:
    train = data.train.X

    def draw(n, rng):
        return (train[rng.integers(len(train), size=n)]
                + noise * rng.normal(size=(n, DIM))).astype(np.float32)

    return Toy(draw)


def collapsed() -> Toy:
    return Toy(lambda n, rng: mixture(n, rng, classes=(0, 1))[0])


def run(check, model, data, seed=0):
    return check.run(model, data, context=CheckContext(random_state=seed))


@pytest.fixture(scope="module")
def data() -> AuditData:
    return toy_data()


def test_fidelity_places_fresh_samples_at_the_floor_and_copies_apart(data):
    check = GenerativeFidelity(n_samples=400, n_resamples=20, kid_subsets=20)
    clean = run(check, fresh(), data)
    assert clean.status is Status.INFO, clean.headline
    fd, floor = clean.metrics["frechet_distance"], clean.tables["metrics"].iloc[0]["floor"]
    assert fd.lower <= fd.value <= fd.upper
    # fresh samples are as far from the held-out data as the real training samples are
    assert fd.value < 3 * floor + 0.5
    ceilings = [c for c in clean.tables["metrics"].columns if c.startswith("ceiling")]
    assert ceilings and all(clean.tables["metrics"].iloc[0][c] > fd.value for c in ceilings[-1:])
    assert 0.8 < clean.metrics["coverage"].value <= 1.0
    bad = run(check, collapsed(), data)
    assert bad.metrics["recall"].value < clean.metrics["recall"].value - 0.2
    assert bad.metrics["frechet_distance"].value > 5 * fd.value


def test_coverage_finds_missing_classes_and_nothing_on_fresh_samples(data):
    check = GenerativeCoverage(n_samples=1000)
    clean = run(check, fresh(), data)
    assert clean.metrics["missing_modes"].value == 0
    assert clean.metrics["underrepresented_modes"].value == 0
    bad = run(check, collapsed(), data)
    assert bad.metrics["missing_modes"].value == 2, bad.tables["classes"]
    missing = bad.tables["classes"].query("status == 'missing'")["class"].tolist()
    assert sorted(missing) == [2, 3]
    assert bad.metrics["vendi_score"].value < clean.metrics["vendi_score"].value


def test_memorisation_separates_copies_from_fresh_samples(data):
    for space in ("inputs", "features"):
        check = GenerativeMemorisation(n_samples=500, space=space)
        clean = run(check, fresh(), data)
        share = clean.metrics["near_copy_share"]
        assert share.lower <= 0.01 <= share.upper or share.value < 0.03, clean.headline
        assert abs(clean.metrics["data_copying_ct"].value) < 3
        bad = run(check, copying(data), data)
        assert bad.metrics["near_copy_share"].lower > 0.9
        assert bad.metrics["data_copying_ct"].value < -5
        assert bad.metrics["authenticity"].value < clean.metrics["authenticity"].value - 0.3
        pairs = bad.tables["closest_pairs"]
        assert (pairs["distance"] < 0.1).all() and len(pairs) == 16


def test_generator_membership_finds_a_generator_that_stores_its_training_set(data):
    check = GenerativeMembership(n_generated=2000, max_per_side=300)
    clean = run(check, fresh(), data)
    assert clean.metrics["auc"].lower < 0.5 < clean.metrics["auc"].upper or \
        abs(clean.metrics["auc"].value - 0.5) < 0.06
    bad = run(check, copying(data, noise=0.001), data)
    assert bad.metrics["tpr_at_1pct_fpr"].lower > 0.5, bad.headline
    not_run = bad.tables["attacks_not_run"]["attack"].tolist()
    assert set(not_run) == {"discriminator", "reconstruction", "elbo"}


def test_default_policy_fails_the_planted_defects_and_passes_fresh_samples(data):
    checks = ["generative_fidelity", "generative_coverage", "generative_memorisation",
              "generative_membership"]
    options = {"generative_fidelity": {"n_samples": 300, "n_resamples": 10, "kid_subsets": 10},
               "generative_membership": {"n_generated": 1000, "max_per_side": 300}}

    def statuses(model):
        from auditkit.checks import get_check

        result = audit(model, data, checks=[get_check(name, **options.get(name, {}))
                                            for name in checks], progress=False)
        return {r.name: r.status for r in result.results}

    clean = statuses(fresh())
    assert all(s in (Status.PASS, Status.INFO) for s in clean.values()), clean
    assert statuses(copying(data))["generative_memorisation"] is Status.FAIL
    assert statuses(copying(data, noise=0.001))["generative_membership"] is Status.FAIL
    assert statuses(collapsed())["generative_coverage"] is Status.FAIL


def test_memorisation_and_coverage_raise_no_false_alarm_on_fresh_samples():
    """Clean generators on 20 independent worlds: the default rules never FAIL or WARN."""
    from auditkit.policy import Policy

    policy = Policy.default()
    memorisation = GenerativeMemorisation(n_samples=300, space="features")
    coverage = GenerativeCoverage(n_samples=500)
    alarms = []
    for seed in range(20):
        world = toy_data(seed=100 + seed, n_train=300, n_test=200)
        for check in (memorisation, coverage):
            result = policy.judge(run(check, fresh(), world, seed=seed))
            if result.status in (Status.WARN, Status.FAIL):
                alarms.append((seed, check.name, result.headline))
    assert len(alarms) <= 1, alarms


class PCAAutoencoder(GenerativeModel):
    """A linear autoencoder with a Gaussian likelihood bound: a toy VAE."""

    capabilities = frozenset({"generate", "encode", "reconstruct", "likelihood"})

    def __init__(self, X: np.ndarray, n_units: int, dead: int = 0) -> None:
        super().__init__()
        flat = X.reshape(len(X), -1).astype(np.float64)
        self.mean = flat.mean(0)
        _, _, vt = np.linalg.svd(flat - self.mean, full_matrices=False)
        self.basis = vt[:n_units]
        self.dead = dead

    def encode(self, X):
        codes = (np.asarray(X, np.float64).reshape(len(X), -1) - self.mean) @ self.basis.T
        codes[:, :self.dead] = 0.0  # units the decoder ignores: collapsed
        return codes

    def reconstruct(self, X):
        return self.encode(X) @ self.basis + self.mean

    def elbo(self, X, *, random_state=0):
        flat = np.asarray(X, np.float64).reshape(len(X), -1)
        return -0.5 * ((flat - self.reconstruct(X)) ** 2).sum(1)

    def sample(self, n, *, random_state=0):
        rng = np.random.default_rng(random_state)
        return (rng.normal(size=(n, len(self.basis))) @ self.basis + self.mean).astype(np.float32)


def test_autoencoder_counts_active_units_and_the_elbo_gap(data):
    check = GenerativeAutoencoder(max_per_side=300)
    healthy = run(check, PCAAutoencoder(data.train.X, 4), data)
    assert healthy.metrics["active_units"].value == 4
    gap = healthy.metrics["elbo_gap"]
    assert gap.lower <= gap.value <= gap.upper
    collapsed_units = run(check, PCAAutoencoder(data.train.X, 4, dead=3), data)
    assert collapsed_units.metrics["active_units"].value == 1
    gaps = healthy.tables["gaps"].set_index("quantity")
    assert gaps.loc["reconstruction error (sum of squares)", "gap"] < 0  # fits its own rows
    assert "reconstructions" not in healthy.figures  # images only
    assert "ood family" in healthy.tables["notes"]["value"].iloc[-1]


def test_generative_checks_skip_what_they_cannot_audit(data):
    net = classifier()
    classifier_result = run(GenerativeMemorisation(), wrap_model(net), data)
    assert classifier_result.status is Status.SKIP
    assert "generative models" in classifier_result.headline
    no_train = AuditData(data.X, data.y, feature_extractor=classifier())
    assert "train=" in run(GenerativeMemorisation(), fresh(), no_train).headline
    unlabelled = AuditData(data.X, data.y, train=(data.train.X, data.train.y),
                           feature_extractor=lambda X: X * 2)
    reason = run(GenerativeCoverage(), fresh(), unlabelled).headline
    assert "cannot label" in reason
    assert run(GenerativeAutoencoder(), fresh(), data).status is Status.SKIP


def test_a_sample_of_the_wrong_shape_is_an_error_naming_it(data):
    wrong = Toy(lambda n, rng: rng.normal(size=(n, DIM + 1)))
    with pytest.raises(Exception, match="shaped like the audited samples"):
        run(GenerativeFidelity(n_samples=50, n_resamples=0), wrong, data)


def test_results_are_deterministic_under_the_seed(data):
    check = GenerativeMemorisation(n_samples=200)
    first = run(check, fresh(), data, seed=3).metrics
    second = run(check, fresh(), data, seed=3).metrics
    assert {k: m.value for k, m in first.items()} == {k: m.value for k, m in second.items()}


def test_a_model_trained_on_some_classes_is_compared_with_held_out_samples_of_those():
    """A GAN trained on two classes that draws fresh samples of them copies nothing."""
    rng = np.random.default_rng(7)
    X_train, y_train = mixture(400, rng, classes=(0, 1))
    X_test, y_test = mixture(400, rng)
    world = AuditData(X_test, y_test, train=(X_train, y_train), feature_extractor=classifier())
    result = run(GenerativeMemorisation(n_samples=400), collapsed(), world)
    assert abs(result.metrics["data_copying_ct"].value) < 3, result.headline
    assert result.metrics["near_copy_share"].value < 0.05
    notes = dict(zip(result.tables["notes"]["item"], result.tables["notes"]["value"],
                     strict=True))
    assert "2 classes the training data holds" in notes["held-out samples"]
    members = run(GenerativeMembership(n_generated=1000, max_per_side=200), collapsed(), world)
    assert members.metrics["auc"].value < 0.6, members.headline
