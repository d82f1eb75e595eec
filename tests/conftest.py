"""Shared fixtures: small seeded datasets and one model of each kind auditkit wraps.

Everything here is small (a few hundred rows) and deterministic, so that the
whole suite stays fast on two CPU cores. Models that tests may mutate (to check
fingerprints, modes, ...) are built inside those tests, not taken from here.

Besides the tabular models (torch MLP, scikit-learn, black-box function), one
tiny fixed-weight torch model per other modality: a CNN on 8x8 images, an
embedding model with its tokenizer, and a GRU on short sequences. The contract
fixtures run every registered check once per session on each of them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits
from torch import nn

from auditkit import AuditData

N_FEATURES = 4


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _make_binary(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, 4), y in {0, 1} (a noisy linear rule), and a binary group."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    y = (X @ np.array([1.5, -1.0, 0.5, 0.0]) + rng.normal(scale=1.0, size=n) > 0).astype(np.int64)
    group = np.where(rng.random(n) < 0.4, "a", "b")
    return X, y, group


def _make_multiclass(n: int = 400, n_classes: int = 4,
                     seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 4) and y in {0 .. n_classes-1}, every class present."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centres = rng.normal(scale=1.5, size=(n_classes, N_FEATURES))
    X = centres[y] + rng.normal(size=(n, N_FEATURES))
    return X, y.astype(np.int64)


#: Fixed weights of the black-box model: class scores = X @ BLACK_BOX_W.
BLACK_BOX_W = np.array([[0.0, 1.2], [0.0, -0.8], [0.0, 0.4], [0.0, 0.1]])


def black_box_function(X: np.ndarray) -> np.ndarray:
    """A plain function from samples to binary class probabilities."""
    return _softmax(np.asarray(X, dtype=np.float64) @ BLACK_BOX_W)


class TinyNet(nn.Module):
    """A small MLP with seeded weights: one hidden layer, two output logits."""

    def __init__(self, n_in: int = N_FEATURES, hidden: int = 8, n_out: int = 2,
                 seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.hidden = nn.Linear(n_in, hidden)
        self.act = nn.ReLU()
        self.out = nn.Linear(hidden, n_out)
        with torch.no_grad():
            for layer in (self.hidden, self.out):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator))
                layer.bias.copy_(0.1 * torch.randn(layer.bias.shape, generator=generator))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.hidden(x)))


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models run faster on one thread, and the suite shares two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # scikit-learn's lbfgs fits (baselines, mitigation) slow down several times when BLAS
    # threads contend for the two cores the suite shares.
    with threadpool_limits(1, user_api="blas"):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def make_binary():
    """Factory of binary datasets: make_binary(n=300, seed=0) -> (X, y, group)."""
    return _make_binary


@pytest.fixture(scope="session")
def make_multiclass():
    """Factory of multi-class datasets: make_multiclass(n, n_classes, seed) -> (X, y)."""
    return _make_multiclass


@pytest.fixture(scope="session")
def binary_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _make_binary()


@pytest.fixture(scope="session")
def binary_data(binary_arrays) -> AuditData:
    X, y, group = binary_arrays
    X_train, y_train, group_train = _make_binary(n=200, seed=10)
    X_canary, y_canary, _ = _make_binary(n=40, seed=12)
    included = np.r_[np.ones(20, dtype=bool), np.zeros(20, dtype=bool)]
    return AuditData(X, y, sensitive={"group": group},
                     train=(X_train, y_train, {"group": group_train}),
                     canaries=(X_canary, y_canary, included), name="synthetic binary")


@pytest.fixture(scope="session")
def multiclass_arrays() -> tuple[np.ndarray, np.ndarray]:
    return _make_multiclass()


@pytest.fixture(scope="session")
def multiclass_data(multiclass_arrays) -> AuditData:
    X, y = multiclass_arrays
    return AuditData(X, y, name="synthetic 4-class")


@pytest.fixture(scope="session")
def logreg(binary_arrays) -> LogisticRegression:
    X, y, _ = binary_arrays
    X_train, y_train, _ = _make_binary(n=200, seed=10)
    return LogisticRegression().fit(X_train, y_train)


@pytest.fixture(scope="session")
def logreg_multiclass() -> LogisticRegression:
    X_train, y_train = _make_multiclass(n=400, seed=11)
    return LogisticRegression(max_iter=500).fit(X_train, y_train)


@pytest.fixture(scope="session")
def torch_model() -> TinyNet:
    """A binary torch classifier (two logits) with fixed weights; tests must not change it."""
    return TinyNet()


@pytest.fixture(scope="session")
def black_box():
    return black_box_function


@pytest.fixture(scope="session")
def zoo_adult():
    """The shipped adult-mlp and its AuditData (loaded once; tests must not change them)."""
    from auditkit import zoo

    return zoo.load("adult-mlp")


# --- one tiny fixed-weight model per modality (image, text, sequence) -----------------------

N_IMAGE_CLASSES = 3
SEQUENCE_LENGTH, SEQUENCE_CHANNELS = 10, 3


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    """Overwrite every parameter with seeded normal draws (scaled by fan-in); eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            fan_in = parameter.shape[1:].numel() if parameter.dim() > 1 else 4
            parameter.copy_(torch.randn(parameter.shape, generator=generator) / fan_in ** 0.5)
    return module.eval()


def _centre_and_label(model: nn.Module, X: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Centre the model's logits on ``X``, then label ``X`` with its predictions, one in six
    replaced at random (errors for the checks to find).

    Centring shifts the head's bias so that each class's mean logit on ``X`` is zero:
    random weights alone often predict one class everywhere.
    """
    with torch.no_grad():
        model.head.bias -= model(torch.as_tensor(X)).mean(0)
        predicted = model(torch.as_tensor(X)).argmax(1).numpy()
    rng = np.random.default_rng(seed)
    flip = rng.random(len(X)) < 1 / 6
    return np.where(flip, rng.integers(0, n_classes, len(X)), predicted).astype(np.int64)


class TinyCNN(nn.Module):
    """Conv(1->4, 3x3) + ReLU + 2x2 max-pool + linear head: 8x8 grey images, three classes."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(4 * 4 * 4, N_IMAGE_CLASSES)
        _seeded(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.act(self.conv(x))).flatten(1))


def _make_image(n: int = 90, seed: int = 2) -> tuple[TinyCNN, AuditData]:
    """A bright 3x3 square in one of three places of a noisy 8x8 image, values in [0, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 0.3, size=(n, 1, 8, 8)).astype(np.float32)
    centres = [(2, 2), (2, 5), (5, 4)]
    for i in range(n):
        r, c = centres[i % 3]
        X[i, 0, r - 1:r + 2, c - 1:c + 2] += 0.7
    X = np.clip(X, 0.0, 1.0)
    model = TinyCNN()
    y = _centre_and_label(model, X, N_IMAGE_CLASSES, seed)
    noise = rng.uniform(0.0, 1.0, size=(30, 1, 8, 8)).astype(np.float32)
    return model, AuditData(X, y, modality="image", input_range=(0.0, 1.0),
                            class_names=("top-left", "top-right", "bottom"),
                            reference=X[: n // 2], ood={"uniform noise": noise},
                            name="tiny 8x8 images")


class TinyGenerative(nn.Module):
    """A fixed-weight VAE-like model of 8x8 images with a discriminator: every capability.

    Linear encoder (posterior mean and log-variance), a linear decoder with a
    sigmoid, a Bernoulli ELBO, and a linear discriminator; weights seeded, not trained.
    """

    generative = True

    def __init__(self, latent: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = nn.Linear(64, 2 * latent)
        self.decoder = nn.Linear(latent, 64)
        self.critic = nn.Linear(64, 1)
        _seeded(self, seed)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x.flatten(1))[:, 0]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 8, 8)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode(self.encode(x)[0]))

    def elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mu, logvar = self.encode(x)
        noise = torch.randn(mu.shape, generator=generator).to(mu)
        logits = self.decode(mu + noise * (0.5 * logvar).exp())
        nll = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
        return -nll.flatten(1).sum(1) - kl

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent, generator=generator)
        return torch.sigmoid(self.decode(z))


def _make_generative(classifier: TinyCNN, seed: int = 4) -> tuple[TinyGenerative, AuditData]:
    """TinyGenerative on 150 held-out and 90 training images like image_case's; its CNN embeds."""
    _, held_out = _make_image(n=150, seed=seed)  # 150 non-members resolve a 1% FPR
    _, members = _make_image(n=90, seed=seed + 1)
    with torch.no_grad():
        label = classifier(torch.as_tensor(members.X)).argmax(1).numpy()
        label_held = classifier(torch.as_tensor(held_out.X)).argmax(1).numpy()
    return TinyGenerative(), AuditData(held_out.X, label_held, train=(members.X, label),
                                       modality="image", input_range=(0.0, 1.0),
                                       class_names=("top-left", "top-right", "bottom"),
                                       feature_extractor=classifier, name="tiny 8x8 images")


class TinyTokenizer:
    """Whitespace tokenizer over a fixed vocabulary: 0 pads, 1 is every unknown word.

    The interface the text checks use: ``tokenizer(texts) -> int64 (n, max_length)``,
    ``decode(ids) -> tokens``, ``vocab`` (word -> id), ``pad_id`` and ``unk_id``.
    """

    pad_id, unk_id = 0, 1

    def __init__(self, words: list[str], max_length: int = 8) -> None:
        self.id_to_token = ("<pad>", "<unk>", *words)
        self.vocab = {word: i for i, word in enumerate(self.id_to_token)}
        self.max_length = max_length

    def tokenize(self, text: str) -> list[str]:
        return text.lower().replace(".", " .").split()

    def __call__(self, texts) -> np.ndarray:
        ids = np.zeros((len(texts), self.max_length), dtype=np.int64)
        for row, text in enumerate(texts):
            encoded = [self.vocab.get(t, self.unk_id) for t in self.tokenize(text)]
            encoded = encoded[:self.max_length]
            ids[row, :len(encoded)] = encoded
        return ids

    def decode(self, ids) -> list[str]:
        return [self.id_to_token[int(i)] for i in np.asarray(ids) if int(i) != self.pad_id]


#: Subjects of the tiny text corpus: gender words and WEAT first names, for the
#: counterfactual fairness check.
TEXT_SUBJECTS = ("he", "she", "Adam", "Emily", "Jamel", "Ebony", "the critic", "my friend")
TEXT_VERBS = ("loved", "hated", "liked", "enjoyed", "watched")
TEXT_OBJECTS = ("a great film", "a dull film", "the good movie", "the bad movie",
                "this boring story", "this fine story")
TEXT_WORDS = sorted({w for phrase in TEXT_SUBJECTS + TEXT_VERBS + TEXT_OBJECTS
                     for w in phrase.lower().split()} | {".", "his", "her", "is", "film"})


class TinyTextModel(nn.Module):
    """Token embedding (dim 8) + mean over real tokens + linear head: two classes."""

    def __init__(self, vocab_size: int, seed: int = 0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.head = nn.Linear(8, 2)
        _seeded(self, seed)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        pooled = (self.embedding(ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


def _make_text(seed: int = 3) -> tuple[TinyTextModel, AuditData]:
    """80 short reviews, each naming a subject, with the subject's group as sensitive feature."""
    rng = np.random.default_rng(seed)
    texts = [f"{s} {v} {o}."
             for s in TEXT_SUBJECTS for v, o in zip(
                 rng.choice(TEXT_VERBS, 10), rng.choice(TEXT_OBJECTS, 10), strict=True)]
    tokenizer = TinyTokenizer(TEXT_WORDS)
    model = TinyTextModel(len(tokenizer.id_to_token))
    X = tokenizer(texts)
    y = _centre_and_label(model, X, 2, seed)
    group = np.array(["female" if t.split()[0].lower() in ("she", "emily", "ebony") else "other"
                      for t in texts])
    return model, AuditData(X, y, modality="text", texts=texts, tokenizer=tokenizer,
                            sensitive={"gender": group}, class_names=("negative", "positive"),
                            name="tiny reviews")


class TinyGRU(nn.Module):
    """GRU (3 channels -> 6 hidden) over (batch, length, channels), last state, linear head."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.gru = nn.GRU(SEQUENCE_CHANNELS, 6, batch_first=True)
        self.head = nn.Linear(6, 2)
        _seeded(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(x)
        return self.head(last[-1])


def _make_sequence(n: int = 80, seed: int = 4) -> tuple[TinyGRU, AuditData]:
    """Noisy sine waves of two frequencies, three channels, ten steps."""
    rng = np.random.default_rng(seed)
    t = np.arange(SEQUENCE_LENGTH)[None, :, None]
    frequency = np.where(np.arange(n) % 2 == 0, 0.5, 1.5)[:, None, None]
    phase = rng.uniform(0, np.pi, size=(n, 1, SEQUENCE_CHANNELS))
    X = (np.sin(frequency * t + phase) + 0.2 * rng.normal(size=(n, SEQUENCE_LENGTH,
                                                                 SEQUENCE_CHANNELS)))
    X = X.astype(np.float32)
    model = TinyGRU()
    y = _centre_and_label(model, X, 2, seed)
    return model, AuditData(X, y, modality="sequence", reference=X[: n // 2],
                            name="tiny sequences")


@pytest.fixture(scope="session")
def image_case() -> tuple[TinyCNN, AuditData]:
    """A fixed-weight CNN on 90 8x8 grey images (three classes); tests must not change it."""
    return _make_image()


@pytest.fixture(scope="session")
def text_case() -> tuple[TinyTextModel, AuditData]:
    """A fixed-weight embedding model with its tokenizer, on 80 short reviews."""
    return _make_text()


@pytest.fixture(scope="session")
def sequence_case() -> tuple[TinyGRU, AuditData]:
    """A fixed-weight GRU on 80 sequences of 10 steps and 3 channels."""
    return _make_sequence()


# --- the contract runs: every check on every kind of model, once per session ---------------

#: The kinds of model the contract suite runs every check on.
CONTRACT_MODELS = ("torch", "sklearn", "black_box", "image", "text", "sequence", "generative")

#: Smaller budgets for the contract runs (the contract is about shape, not quality). An
#: option a check no longer has is left out, so that renaming one does not break the suite.
CONTRACT_OPTIONS: dict[str, dict] = {
    "explanations_lime": {"n_samples": 8, "num_samples": 200},
    "explanations_integrated_gradients": {"n_samples": 16, "n_steps": 16},
    "fairness_counterfactual_text": {"min_known_terms": 1},  # the tiny vocabulary: 1 name
    "fairness_mitigation": {"grid_size": 20, "reduction_iterations": 3},
    "robustness_gradient_masking": {"n_samples": 60, "square_samples": 40, "n_queries": 100},
    "robustness_pgd": {"steps": 10},
    "robustness_pgd_l2": {"steps": 10},
    "robustness_square": {"n_queries": 100},
    # at most the 150 audited images: a metric's n never exceeds the audited samples
    "generative_fidelity": {"n_samples": 60, "n_resamples": 20, "kid_subsets": 10},
    "generative_coverage": {"n_samples": 80},
    "generative_memorisation": {"n_samples": 80},
    "generative_membership": {"n_generated": 80, "max_per_side": None},
    "generative_autoencoder": {"max_per_side": 60},
}


@pytest.fixture(scope="session")
def contract_cases(torch_model, logreg, black_box, binary_data, image_case, text_case,
                   sequence_case):
    # the generative case embeds with image_case's CNN (a copy: tests must not change it)
    """Model kind -> (adapter, data) for every kind in CONTRACT_MODELS."""
    import copy

    from auditkit import wrap_model

    generative = _make_generative(copy.deepcopy(image_case[0]))
    return {
        "torch": (wrap_model(torch_model, device="cpu"), binary_data),
        "sklearn": (wrap_model(logreg), binary_data),
        "black_box": (wrap_model(black_box), binary_data),
        "image": (wrap_model(image_case[0], device="cpu"), image_case[1]),
        "text": (wrap_model(text_case[0], device="cpu"), text_case[1]),
        "sequence": (wrap_model(sequence_case[0], device="cpu"), sequence_case[1]),
        "generative": (wrap_model(generative[0], device="cpu"), generative[1]),
    }


def contract_check(name):
    """The registered check ``name`` with its contract options."""
    from auditkit import get_check
    from auditkit.checks import check_class

    known = {f.name for f in dataclasses.fields(check_class(name))}
    return get_check(name, **{k: v for k, v in CONTRACT_OPTIONS.get(name, {}).items()
                              if k in known})


def run_contract_check(name, adapter, data, *, seed=0, n_workers=1):
    """Run check ``name`` (with its contract options) on ``adapter`` and ``data``."""
    from auditkit import CheckContext
    from auditkit.checks import LocalExecutor

    check = contract_check(name)
    context = CheckContext(random_state=seed, device=adapter.device,
                           executor=LocalExecutor(n_workers))
    return check, check.run(adapter, data, context=context)


@pytest.fixture(scope="session")
def contract_result(contract_cases):
    """contract_result(name, kind) -> (check, result), run once per session (seed 0, 1 worker).

    A check that raises raises again in every test asking for its result.
    """
    cache: dict[tuple[str, str], tuple] = {}

    def get(name: str, kind: str):
        if (name, kind) not in cache:
            adapter, data = contract_cases[kind]
            try:
                cache[name, kind] = (run_contract_check(name, adapter, data), None)
            except Exception as error:  # noqa: BLE001  (kept to raise in each test that asks)
                cache[name, kind] = (None, error)
        outcome, error = cache[name, kind]
        if error is not None:
            raise error
        return outcome

    return get
