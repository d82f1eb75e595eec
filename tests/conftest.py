"""Shared fixtures: small seeded datasets and one model of each kind auditkit wraps.

Everything here is small (a few hundred rows) and deterministic, so that the
whole suite stays fast on two CPU cores. Models that tests may mutate (to check
fingerprints, modes, ...) are built inside those tests, not taken from here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
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
    X_train, y_train, _ = _make_binary(n=200, seed=10)
    return AuditData(X, y, sensitive={"group": group}, train=(X_train, y_train),
                     name="synthetic binary")


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
