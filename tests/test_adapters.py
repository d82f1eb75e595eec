"""The adapter contract beyond predictions: tensors, layers, features, randomised and
refitted copies, and the generative protocol, on tiny models with fixed weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from auditkit import AuditData, ModelAdapter, Status, audit, wrap_model
from auditkit.exceptions import ModelError
from auditkit.inputs import (
    CAPABILITIES,
    CAPABILITY_DESCRIPTIONS,
    GenerativeAdapter,
    GenerativeModel,
    SklearnClassifier,
    TorchClassifier,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

_RNG = np.random.default_rng(3)
X = _RNG.normal(size=(80, 3)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)


def _mlp() -> nn.Sequential:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2))


class _Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(1, 2, 3)
        self.second = nn.Conv2d(2, 2, 3)
        self.head = nn.Linear(2 * 4 * 4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.second(self.first(x)).flatten(1))


class _Text(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tokens = nn.Embedding(10, 4)
        self.positions = nn.Embedding(6, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head((self.tokens(ids) + self.positions.weight[:ids.shape[1]]).mean(1))


def _train_fn(module: nn.Module, X: np.ndarray, y: np.ndarray, *, random_state: int,
              sample_weight: np.ndarray | None = None) -> nn.Module:
    """A few seeded full-batch Adam steps: enough to move every weight."""
    with torch.random.fork_rng():
        torch.manual_seed(random_state)
        optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
        inputs, targets = torch.as_tensor(X), torch.as_tensor(y)
        module.train()
        for _ in range(20):
            keep = torch.rand(len(inputs)) < 0.8  # seeded subsampling: the seed matters
            optimiser.zero_grad()
            nn.functional.cross_entropy(module(inputs[keep]), targets[keep]).backward()
            optimiser.step()
    return module.eval()


def _black_box(X: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-np.asarray(X, dtype=np.float64)[:, 0]))
    return np.column_stack([1.0 - p, p])


@pytest.fixture(scope="module")
def sk_mlp() -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(6, 4), max_iter=300, random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def scaled_logreg() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X * 3 + 1, Y)


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


# -- capabilities -----------------------------------------------------------------------


def test_every_capability_is_described():
    assert set(CAPABILITY_DESCRIPTIONS) == CAPABILITIES


def test_capabilities_follow_what_each_model_allows(sk_mlp, scaled_logreg):
    assert {"layers", "randomize"} <= wrap_model(_mlp(), device="cpu").capabilities
    assert "refit" not in wrap_model(_mlp(), device="cpu").capabilities
    assert "refit" in wrap_model(_mlp(), device="cpu", train_fn=_train_fn).capabilities
    assert {"features", "randomize", "refit"} <= wrap_model(sk_mlp).capabilities
    pipeline = wrap_model(scaled_logreg).capabilities
    assert "features" in pipeline and "randomize" not in pipeline and "refit" in pipeline
    plain = wrap_model(LogisticRegression().fit(X, Y)).capabilities
    assert not {"features", "randomize", "layers"} & plain
    assert wrap_model(_black_box).capabilities == {"predict", "probabilities", "loss"}


# -- torch: tensors, modes, layers ------------------------------------------------------


def test_torch_logits_tensor_is_differentiable_and_equals_logits():
    adapter = wrap_model(_mlp(), device="cpu")
    x = torch.from_numpy(X[:7]).requires_grad_(True)
    with adapter.evaluating():
        out = adapter.logits_tensor(x)
    np.testing.assert_allclose(out.detach().numpy(), adapter.logits(X[:7]), rtol=1e-6)
    (grad,) = torch.autograd.grad(out[:, 1].sum(), x)
    assert grad.shape == x.shape and grad.abs().sum() > 0


def test_torch_evaluating_and_frozen_restore_the_module():
    module = _mlp().train()
    module[0].weight.requires_grad_(False)  # a flag of the user's own, kept afterwards
    adapter = wrap_model(module, device="cpu")
    with adapter.evaluating(), adapter.frozen():
        assert not module.training and not module[2].training
        assert not any(p.requires_grad for p in module.parameters())
    assert module.training and module[2].training
    assert [p.requires_grad for p in module.parameters()] == [False, True, True, True]


def test_non_torch_adapters_have_no_op_scopes_and_no_tensors(sk_mlp):
    for adapter in (wrap_model(sk_mlp), wrap_model(_black_box)):
        with adapter.evaluating(), adapter.frozen():
            pass
        with pytest.raises(ModelError, match="does not provide 'gradients'"):
            adapter.logits_tensor(torch.from_numpy(X))
        with pytest.raises(ModelError, match="does not provide 'layers'"):
            adapter.layer(kind="conv")


def test_torch_layer_finds_the_named_or_default_layer():
    cnn = wrap_model(_Cnn(), device="cpu")
    assert cnn.layer(kind="conv") is cnn.module.second
    assert cnn.layer("first", kind="conv") is cnn.module.first
    assert cnn.layer(kind="linear") is cnn.module.head
    assert cnn.layer(kind="embedding") is None
    text = wrap_model(_Text(), device="cpu")
    assert text.layer(kind="embedding") is text.module.tokens  # the token embedding
    assert wrap_model(_mlp(), device="cpu").layer(kind="conv") is None
    with pytest.raises(ModelError, match=r"The 'layer' parameter must be one of .*'second'.* "
                                         r"Got 'third' instead"):
        cnn.layer("third", kind="conv")
    with pytest.raises(ModelError, match=r"The 'kind' parameter must be one of \['conv', "
                                         r"'embedding', 'linear'\]"):
        cnn.layer(kind="pool")


# -- features ---------------------------------------------------------------------------


def test_sklearn_mlp_features_are_its_last_hidden_layer(sk_mlp):
    hidden = np.maximum(X @ sk_mlp.coefs_[0] + sk_mlp.intercepts_[0], 0)
    hidden = np.maximum(hidden @ sk_mlp.coefs_[1] + sk_mlp.intercepts_[1], 0)
    features = wrap_model(sk_mlp, batch_size=7).features(X)
    assert features.shape == (80, 4)
    np.testing.assert_allclose(features, hidden, rtol=1e-5, atol=1e-6)  # float32 weights


def test_pipeline_ending_in_an_mlp_transforms_then_takes_the_hidden_layer():
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(3,),
                                                             activation="tanh", max_iter=200,
                                                             random_state=0))
    pipeline.fit(X * 4 - 2, Y)
    scaled = pipeline[0].transform(X * 4 - 2)
    mlp = pipeline[-1]
    expected = np.tanh(scaled @ mlp.coefs_[0] + mlp.intercepts_[0])
    np.testing.assert_allclose(wrap_model(pipeline).features(X * 4 - 2), expected,
                               rtol=1e-5, atol=1e-6)


def test_pipeline_features_are_the_input_of_its_last_step(scaled_logreg):
    expected = scaled_logreg[0].transform(X * 3 + 1)
    np.testing.assert_allclose(wrap_model(scaled_logreg).features(X * 3 + 1), expected)


def test_models_without_a_hidden_layer_have_no_features():
    with pytest.raises(ModelError, match=r"does not provide 'features': a scikit-learn "
                                         r"LogisticRegression has no hidden layer"):
        wrap_model(LogisticRegression().fit(X, Y)).features(X)
    with pytest.raises(ModelError, match="does not provide 'features'"):
        wrap_model(_black_box).features(X)


# -- randomised copies ------------------------------------------------------------------


def test_torch_randomized_copy_changes_weights_and_predictions_not_the_original():
    module = _mlp()
    before = _weights(module)
    adapter = wrap_model(module, device="cpu", batch_size=16)
    fingerprint, proba = adapter.fingerprint(), adapter.predict_proba(X)
    copy = adapter.randomized_copy(3)
    assert isinstance(copy, TorchClassifier) and copy.module is not module
    assert copy.batch_size == 16
    assert all(not torch.equal(a, b) for a, b in zip(_weights(copy.module), before, strict=True))
    assert not np.allclose(copy.predict_proba(X), proba)
    assert adapter.fingerprint() == fingerprint
    assert all(torch.equal(a, b) for a, b in zip(_weights(module), before, strict=True))
    np.testing.assert_array_equal(adapter.predict_proba(X), proba)
    again = adapter.randomized_copy(3)
    assert again.fingerprint() == copy.fingerprint()
    assert adapter.randomized_copy(4).fingerprint() != copy.fingerprint()


def test_torch_randomized_copy_of_the_top_layers_only():
    module = _mlp()
    copy = wrap_model(module, device="cpu").randomized_copy(0, layers=1)
    assert torch.equal(copy.module[0].weight, module[0].weight)
    assert not torch.equal(copy.module[3].weight, module[3].weight)
    with pytest.raises(ModelError, match=r"The 'layers' parameter must be 'all' or a positive "
                                         r"int"):
        wrap_model(module, device="cpu").randomized_copy(0, layers=0)


def test_sklearn_mlp_randomized_copy_is_glorot_uniform_and_leaves_the_original(sk_mlp):
    adapter = wrap_model(sk_mlp)
    before = [c.copy() for c in sk_mlp.coefs_]
    copy = adapter.randomized_copy(1)
    assert isinstance(copy, SklearnClassifier)
    randomised = copy.estimator.coefs_
    for original, new in zip(before, randomised, strict=True):
        bound = np.sqrt(6.0 / sum(original.shape))
        assert new.shape == original.shape and np.abs(new).max() <= bound
        assert not np.allclose(new, original)
    assert all(np.array_equal(a, b) for a, b in zip(sk_mlp.coefs_, before, strict=True))
    assert not np.allclose(copy.predict_proba(X), adapter.predict_proba(X))
    top = adapter.randomized_copy(1, layers=1).estimator.coefs_
    np.testing.assert_array_equal(top[0], before[0])
    assert not np.allclose(top[-1], before[-1])


def test_models_that_cannot_be_randomised_say_so(scaled_logreg):
    with pytest.raises(ModelError, match=r"only torch modules and scikit-learn MLPs can be "
                                         r"re-initialised; this is a LogisticRegression"):
        wrap_model(scaled_logreg).randomized_copy(0)
    with pytest.raises(ModelError, match="does not provide 'randomize'"):
        wrap_model(_black_box).randomized_copy(0)


# -- refitting --------------------------------------------------------------------------


def test_sklearn_fit_clone_refits_a_copy_seeded_by_random_state(sk_mlp):
    adapter = wrap_model(sk_mlp)
    first = adapter.fit_clone(X[:60], Y[:60], random_state=1)
    same = adapter.fit_clone(X[:60], Y[:60], random_state=1)
    other = adapter.fit_clone(X[:60], Y[:60], random_state=2)
    assert isinstance(first, SklearnClassifier) and first.estimator is not sk_mlp
    check_is_fitted(first.estimator)
    np.testing.assert_array_equal(first.predict_proba(X), same.predict_proba(X))
    assert not np.allclose(first.predict_proba(X), other.predict_proba(X))
    manual = clone(sk_mlp).set_params(random_state=2).fit(X[:60], Y[:60])
    np.testing.assert_allclose(other.predict_proba(X), manual.predict_proba(X))
    assert sk_mlp.random_state == 0  # the audited estimator is untouched


def test_sklearn_pipeline_fit_clone_routes_sample_weight_to_the_last_step(scaled_logreg):
    adapter = wrap_model(scaled_logreg)
    weights = np.where(Y == 1, 5.0, 1.0)
    weighted = adapter.fit_clone(X, Y, sample_weight=weights)
    manual = clone(scaled_logreg).fit(X, Y, logisticregression__sample_weight=weights)
    np.testing.assert_allclose(weighted.predict_proba(X), manual.predict_proba(X))
    assert not np.allclose(weighted.predict_proba(X), adapter.fit_clone(X, Y).predict_proba(X))


def test_sklearn_clone_untrained_is_unfitted(sk_mlp):
    estimator = wrap_model(sk_mlp).clone_untrained()
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert estimator.get_params() == sk_mlp.get_params()
    assert wrap_model(sk_mlp).clone_untrained(random_state=5).random_state == 5


def test_torch_fit_clone_trains_a_reinitialised_copy_with_train_fn():
    module = _mlp()
    before = _weights(module)
    adapter = wrap_model(module, device="cpu", train_fn=_train_fn)
    first = adapter.fit_clone(X, Y, random_state=1)
    same = adapter.fit_clone(X, Y, random_state=1)
    other = adapter.fit_clone(X, Y, random_state=2)
    assert isinstance(first, TorchClassifier) and first.module is not module
    assert "refit" in first.capabilities
    np.testing.assert_array_equal(first.predict_proba(X), same.predict_proba(X))
    assert not np.allclose(first.predict_proba(X), other.predict_proba(X))
    assert (first.predict(X) == Y).mean() > 0.8
    assert all(torch.equal(a, b) for a, b in zip(_weights(module), before, strict=True))
    untrained = adapter.clone_untrained(random_state=1)
    assert not torch.equal(untrained[0].weight, module[0].weight)


def test_refit_without_a_way_to_train_gives_a_reason():
    adapter = wrap_model(_mlp(), device="cpu")
    reason = adapter.refit_unavailable_reason
    assert reason.startswith("The model cannot be refitted: a torch module is refitted through "
                             "a training function")
    with pytest.raises(ModelError, match="wrap_model\\(module, train_fn=fn\\)"):
        adapter.fit_clone(X, Y)
    with pytest.raises(ModelError, match="cannot be refitted"):
        adapter.clone_untrained()
    box = wrap_model(_black_box)
    assert "callable model cannot be refitted" in box.refit_unavailable_reason
    with pytest.raises(ModelError, match="does not provide 'refit'"):
        box.fit_clone(X, Y)
    assert wrap_model(LogisticRegression().fit(X, Y)).refit_unavailable_reason is None


def test_train_fn_must_be_callable():
    with pytest.raises(ModelError, match="The 'train_fn' parameter must be a callable"):
        wrap_model(_mlp(), device="cpu", train_fn="adam")


def test_model_input_names_the_columns_of_a_frame_fitted_estimator():
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    adapter = wrap_model(LogisticRegression().fit(frame, Y))
    assert list(adapter.model_input(X).columns) == ["a", "b", "c"]
    assert wrap_model(_black_box).model_input(X) is X


def test_attribution_baseline_comes_from_the_module_when_it_has_one(sk_mlp):
    module = _mlp()
    assert wrap_model(module, device="cpu").attribution_baseline(X) is None
    module.attribution_baseline = lambda x: torch.full_like(x, 0.5)
    np.testing.assert_array_equal(wrap_model(module, device="cpu").attribution_baseline(X),
                                  np.full_like(X, 0.5))
    assert wrap_model(sk_mlp).attribution_baseline(X) is None


# -- the generative protocol ------------------------------------------------------------


class _TinyVAE(nn.Module):
    generative = True

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(2, 4)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode(torch.randn(n, 2, generator=generator)))

    def elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        mu, _ = self.encode(x)
        z = mu + torch.randn(mu.shape, generator=generator)
        return -((torch.sigmoid(self.decode(z)) - x) ** 2).sum(1)


class _TinyGAN(nn.Module):
    generative = True

    def __init__(self) -> None:
        super().__init__()
        self.generator = nn.Linear(2, 4)
        self.discriminator = nn.Linear(4, 1)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generator(torch.randn(n, 2, generator=generator))


def test_generative_adapter_is_not_a_classifier():
    adapter = wrap_model(_TinyVAE(), device="cpu")
    assert isinstance(adapter, GenerativeAdapter) and isinstance(adapter, GenerativeModel)
    assert not isinstance(adapter, ModelAdapter)
    assert not hasattr(adapter, "predict_proba") and not hasattr(adapter, "classes_")
    assert wrap_model(adapter) is adapter


def test_generative_capabilities_and_methods_of_a_vae():
    adapter = wrap_model(_TinyVAE(), device="cpu", batch_size=3)
    assert adapter.capabilities == {"generate", "weights", "encode", "decode", "likelihood"}
    samples = adapter.sample(5, random_state=1)
    assert samples.shape == (5, 4)
    np.testing.assert_array_equal(samples, adapter.sample(5, random_state=1))
    assert not np.allclose(samples, adapter.sample(5, random_state=2))
    codes = adapter.encode(samples)
    assert codes.shape == (5, 2)
    assert adapter.decode(codes).shape == (5, 4)
    elbo = adapter.elbo(samples, random_state=0)
    assert elbo.shape == (5,)
    np.testing.assert_array_equal(elbo, adapter.elbo(samples, random_state=0))
    with pytest.raises(ModelError, match="does not provide 'discriminator'"):
        adapter.discriminator_score(samples)
    assert len(adapter.fingerprint()) == 64


def test_generative_capabilities_of_a_gan():
    adapter = wrap_model(_TinyGAN(), device="cpu")
    assert adapter.capabilities == {"generate", "weights", "discriminator"}
    samples = adapter.sample(6, random_state=0)
    assert adapter.discriminator_score(samples).shape == (6,)
    for method, what in ((adapter.encode, "encode"), (adapter.decode, "decode"),
                         (adapter.elbo, "likelihood")):
        with pytest.raises(ModelError, match=f"does not provide '{what}'"):
            method(samples)


def test_classifier_checks_skip_on_a_generative_model():
    data = AuditData(np.random.default_rng(0).uniform(size=(20, 4)), [0, 1] * 10)
    result = audit(_TinyVAE(), data, preset="quick", device="cpu", progress=False)
    classifier_checks = [r for r in result.results if r.family != "generative"]
    assert classifier_checks and all(r.status is Status.SKIP for r in classifier_checks)
    assert all("applies to classifiers" in r.headline for r in classifier_checks)
    # the generative checks apply; without training data those that compare with it SKIP
    generative = {r.name: r for r in result.results if r.family == "generative"}
    assert "train=" in generative["generative_memorisation"].headline
    assert result.provenance["model"]["framework"] == "torch-generative"


def test_float32_probabilities_of_a_scikit_learn_model_sum_to_one_in_float64():
    from sklearn.linear_model import LogisticRegression

    from auditkit import wrap_model

    X = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    raw = model.predict_proba(X)
    assert raw.dtype == np.float32
    assert np.abs(raw.astype(np.float64).sum(axis=1) - 1).max() > 0  # the rounding to undo
    proba = wrap_model(model).predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, raw, atol=1e-7)
