"""Model adapters: one small interface over PyTorch, scikit-learn and plain functions.

Checks never branch on the framework. They ask a :class:`ModelAdapter` for
``predict_proba``, and, when its ``capabilities`` say so, for ``logits``,
``features`` (penultimate-layer embeddings), per-sample ``loss`` and
``input_gradient``. Every call is batched; torch calls run in eval mode under
``torch.inference_mode()`` (except gradients) and restore the module's mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._device import resolve_device
from ..exceptions import BAD_TYPE, BAD_VALUE, ModelError

__all__ = [
    "ModelAdapter",
    "TorchClassifier",
    "SklearnClassifier",
    "CallableClassifier",
    "GenerativeAdapter",
    "wrap_model",
    "CAPABILITIES",
]

#: Every capability an adapter may declare.
CAPABILITIES = frozenset({"predict", "probabilities", "logits", "gradients", "features", "loss",
                          "weights", "generate", "likelihood"})

#: What each capability means, for SKIP reasons and the report.
CAPABILITY_DESCRIPTIONS = {
    "predict": "class predictions",
    "probabilities": "calibrated class probabilities (predict_proba)",
    "logits": "raw class scores (logits)",
    "gradients": "gradients with respect to its inputs",
    "features": "penultimate-layer features",
    "loss": "a per-sample loss",
    "weights": "readable weights",
    "generate": "sampling new data (a generative model)",
    "likelihood": "a per-sample likelihood bound (ELBO)",
}

_TABULAR_BATCH = 8192
_NOT_CAPABLE = "The model does not provide '{what}': it has capabilities {have}."
_NOT_FITTED = (
    "The model's output size is not known yet: call predict_proba on some data first "
    "(audit() does this for you)."
)


def _as_numpy(X: Any) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return np.asarray(X)


class ModelAdapter(ABC):
    """What auditkit needs from a classifier.

    Attributes
    ----------
    capabilities : frozenset of str
        Subset of :data:`CAPABILITIES`. ``"predict"`` marks a classifier;
        ``"probabilities"`` means ``predict_proba`` returns probabilities rather
        than squashed scores; ``"generate"`` marks a generative model.
    batch_size : int
        Number of samples per model call.
    """

    capabilities: frozenset[str] = frozenset()
    framework: str = "callable"

    def __init__(self, *, batch_size: int = 512, classes: Sequence[Any] | None = None) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ModelError(BAD_VALUE.format(param="batch_size", expected="a positive integer",
                                              got=repr(batch_size)))
        self.batch_size = int(batch_size)
        self._classes = None if classes is None else np.asarray(classes)

    # -- output space ----------------------------------------------------------------

    @property
    def classes_(self) -> np.ndarray:
        """Labels of the output columns, in column order."""
        if self._classes is None:
            raise ModelError(_NOT_FITTED)
        return self._classes

    @property
    def n_classes(self) -> int:
        """Number of output classes."""
        return len(self.classes_)

    def _set_n_outputs(self, n_outputs: int) -> None:
        if self._classes is None:
            self._classes = np.arange(n_outputs)
        elif len(self._classes) != n_outputs:
            raise ModelError(
                BAD_VALUE.format(param="classes", expected=f"{n_outputs} labels, one per output "
                                 "column of the model", got=f"{len(self._classes)} labels")
            )

    def label_indices(self, y: Any) -> np.ndarray:
        """Map labels to output-column indices."""
        classes = self.classes_
        y = _as_numpy(y)
        order = np.argsort(classes)
        pos = np.searchsorted(classes, y, sorter=order)
        pos = np.clip(pos, 0, len(classes) - 1)
        idx = order[pos]
        if not np.all(classes[idx] == y):
            unknown = sorted(set(np.unique(y[classes[idx] != y]).tolist()))
            raise ModelError(BAD_VALUE.format(param="y",
                                              expected=f"labels among {classes.tolist()}",
                                              got=f"labels {unknown[:5]}"))
        return idx

    # -- predictions -----------------------------------------------------------------

    @abstractmethod
    def predict_proba(self, X: Any) -> np.ndarray:
        """Return class probabilities, array of shape (n_samples, n_classes)."""

    def predict(self, X: Any) -> np.ndarray:
        """Return predicted labels, array of shape (n_samples,)."""
        proba = self.predict_proba(X)  # first: it fixes the output size of a new adapter
        return self.classes_[np.argmax(proba, axis=1)]

    def loss(self, X: Any, y: Any) -> np.ndarray:
        """Per-sample cross-entropy, array of shape (n_samples,)."""
        proba = self.predict_proba(X)
        idx = self.label_indices(y)
        picked = proba[np.arange(len(idx)), idx]
        return -np.log(np.clip(picked, 1e-12, None))

    def logits(self, X: Any) -> np.ndarray:
        """Raw class scores, array of shape (n_samples, n_classes)."""
        raise ModelError(_NOT_CAPABLE.format(what="logits", have=sorted(self.capabilities)))

    def features(self, X: Any) -> np.ndarray:
        """Penultimate-layer embeddings, array of shape (n_samples, n_features)."""
        raise ModelError(_NOT_CAPABLE.format(what="features", have=sorted(self.capabilities)))

    def input_gradient(self, X: Any, y: Any) -> np.ndarray:
        """Gradient of the per-sample loss with respect to the input, shaped like X."""
        raise ModelError(_NOT_CAPABLE.format(what="gradients", have=sorted(self.capabilities)))

    def fingerprint(self) -> str | None:
        """SHA-256 of the model's parameters, or None when they cannot be read."""
        return None

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return "cpu"

    def __repr__(self) -> str:
        classes = "?" if self._classes is None else len(self._classes)
        return (f"{type(self).__name__}(classes={classes}, "
                f"capabilities={sorted(self.capabilities)}, batch_size={self.batch_size})")

    def _batches(self, n: int, size: int | None = None) -> Iterator[slice]:
        size = size or self.batch_size
        for start in range(0, n, size):
            yield slice(start, min(start + size, n))


# -- PyTorch --------------------------------------------------------------------------


@contextlib.contextmanager
def _evaluating(module: nn.Module, device: torch.device) -> Iterator[None]:
    """Put the module in eval mode on ``device``, and restore its modes and device afterwards."""
    modes = [(layer, layer.training) for layer in module.modules()]
    first = next(module.parameters(), None)
    original_device = first.device if first is not None else device
    module.eval()
    if original_device != device:
        module.to(device)
    try:
        yield
    finally:
        if original_device != device:
            module.to(original_device)
        for layer, training in modes:  # each submodule's own mode (e.g. a frozen BatchNorm)
            layer.training = training


class _SharedEval:
    """Eval mode on a device while any thread is inside; the last to leave restores the modes.

    Checks hand batches to threads (``n_jobs > 1``); each call entering and
    leaving :func:`_evaluating` on its own would let one thread restore a
    training-mode module while another still predicts with it.
    """

    def __init__(self, module: nn.Module, device: torch.device) -> None:
        self.module, self.device = module, device
        self._lock = threading.Lock()
        self._depth = 0
        self._stack: contextlib.ExitStack | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                stack = contextlib.ExitStack()
                stack.enter_context(_evaluating(self.module, self.device))
                self._stack = stack
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._stack is not None:
                    stack, self._stack = self._stack, None
                    stack.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"module": self.module, "device": self.device}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["module"], state["device"])  # type: ignore[misc]


def _torch_fingerprint(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy()
                      .tobytes())
    return digest.hexdigest()


class TorchClassifier(ModelAdapter):
    """Adapter for a PyTorch classifier returning logits.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a batch of inputs to logits of shape (batch, n_classes), or to a
        single logit (shape (batch,) or (batch, 1)) for a binary classifier
        read through a sigmoid.
    batch_size : int, optional
        Samples per forward pass. By default 512, and 8,192 for 2-D float
        (tabular) inputs, where rows are small and per-call overhead dominates
        (explanations evaluate many masked rows).
    device : str, default="auto"
        ``"auto"`` picks CUDA, then MPS, then the CPU.
    classes : sequence, optional
        Label of each output column; defaults to ``0 .. n_classes - 1``.
    feature_layer : str, optional
        Name (as in ``named_modules()``) of the layer whose output are the
        features; defaults to the input of the last ``nn.Linear``.
    """

    capabilities = frozenset({"predict", "probabilities", "logits", "gradients", "features",
                              "loss", "weights"})
    framework = "torch"

    def __init__(self, module: nn.Module, *, batch_size: int | None = None, device: str = "auto",
                 classes: Sequence[Any] | None = None, feature_layer: str | None = None) -> None:
        super().__init__(batch_size=512 if batch_size is None else batch_size, classes=classes)
        self._auto_batch = batch_size is None
        if not isinstance(module, nn.Module):
            raise ModelError(BAD_TYPE.format(param="model", expected="a torch.nn.Module",
                                              got=type(module).__name__))
        self.module = module
        self._device = resolve_device(device)
        self._eval_scope = _SharedEval(module, self._device)
        self._binary_single_logit: bool | None = None
        modules = dict(module.named_modules())
        if feature_layer is not None and feature_layer not in modules:
            raise ModelError(BAD_VALUE.format(param="feature_layer",
                                              expected=f"one of {sorted(k for k in modules if k)}",
                                              got=repr(feature_layer)))
        self.feature_layer = feature_layer

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(self._device)

    def _evaluating(self) -> contextlib.AbstractContextManager[None]:
        return self._eval_scope()

    def _to_tensor(self, X: Any) -> torch.Tensor:
        if isinstance(X, torch.Tensor):
            tensor = X
        else:
            array = np.ascontiguousarray(X)
            if not array.flags.writeable:  # torch warns on read-only memory; the copy is cheap
                array = array.copy()
            tensor = torch.from_numpy(array)
        if tensor.dtype in (torch.float64, torch.float16, torch.bool):
            tensor = tensor.float()
        elif tensor.dtype in (torch.int32, torch.int16, torch.int8, torch.uint8):
            tensor = tensor.long()
        return tensor

    def _two_column(self, out: torch.Tensor) -> torch.Tensor:
        """Logits as (batch, n_classes); a single logit z becomes [-z/2, z/2]."""
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise ModelError(BAD_VALUE.format(param="model", expected="a module returning logits "
                                              "of shape (batch, n_classes) or (batch,)",
                                              got=f"an output of shape {tuple(out.shape)}"))
        if self._binary_single_logit is None:
            self._binary_single_logit = out.shape[1] == 1
            self._set_n_outputs(2 if self._binary_single_logit else out.shape[1])
        if self._binary_single_logit:
            # [-z/2, z/2] has the sigmoid's softmax, and gives both classes a gradient.
            out = torch.cat([-0.5 * out, 0.5 * out], dim=1)
        return out

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits of a batch already on the model's device.

        Binary single-logit models give two columns [-z/2, z/2] (the same
        softmax as the sigmoid of z), so that every classifier looks
        multi-class to gradient-based methods and both classes have gradients.
        The caller puts the module in eval mode (see :meth:`evaluating`).
        """
        return self._two_column(self.module(x))

    def evaluating(self) -> contextlib.AbstractContextManager[None]:
        """Context in which the module is in eval mode on the adapter's device."""
        return self._evaluating()

    def _forward_logits(self, X: Any) -> torch.Tensor:
        """Logits of the whole of X, on the CPU, batched."""
        tensor = self._to_tensor(X)
        chunks = []
        size = _TABULAR_BATCH if (self._auto_batch and tensor.ndim == 2
                                  and tensor.is_floating_point()) else self.batch_size
        with self._evaluating(), torch.inference_mode():
            for batch in self._batches(len(tensor), size):
                out = self.module(tensor[batch].to(self._device))
                chunks.append(self._two_column(out).float().cpu())
        if not chunks:
            return torch.empty((0, self.n_classes))
        return torch.cat(chunks)

    def logits(self, X: Any) -> np.ndarray:
        """Raw class scores, array of shape (n_samples, n_classes)."""
        return self._forward_logits(X).numpy().astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax (or sigmoid) of the logits, array of shape (n_samples, n_classes)."""
        return torch.softmax(self._forward_logits(X).double(), dim=1).numpy()

    def loss(self, X: Any, y: Any) -> np.ndarray:
        """Per-sample cross-entropy from the logits, array of shape (n_samples,)."""
        logits = self._forward_logits(X).double()
        target = torch.from_numpy(self.label_indices(y))
        return torch.nn.functional.cross_entropy(logits, target, reduction="none").numpy()

    def _feature_module(self) -> tuple[nn.Module, bool]:
        """The layer to hook, and whether to take its input (True) or output."""
        if self.feature_layer is not None:
            return dict(self.module.named_modules())[self.feature_layer], False
        linear = [m for m in self.module.modules() if isinstance(m, nn.Linear)]
        if not linear:
            raise ModelError(BAD_VALUE.format(param="feature_layer", expected="the name of a layer "
                                              "(the model has no nn.Linear to default to)",
                                              got="None"))
        return linear[-1], True

    def features(self, X: Any) -> np.ndarray:
        """Penultimate-layer embeddings, array of shape (n_samples, n_features)."""
        layer, take_input = self._feature_module()
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...],
                 output: torch.Tensor) -> None:
            value = inputs[0] if take_input else output
            if isinstance(value, tuple):  # recurrent layers return (output, state)
                value = value[0]
            captured.append(value.detach().flatten(1).float().cpu())

        handle = layer.register_forward_hook(hook)
        try:
            self._forward_logits(X)
        finally:
            handle.remove()
        return torch.cat(captured).numpy().astype(np.float64)

    def input_gradient(self, X: Any, y: Any) -> np.ndarray:
        """Gradient of each sample's cross-entropy with respect to its input."""
        tensor = self._to_tensor(X)
        if not torch.is_floating_point(tensor):
            raise ModelError(BAD_VALUE.format(param="X", expected="floating-point inputs to take "
                                              "gradients (token ids have none)",
                                              got=f"dtype {tensor.dtype}"))
        if self._classes is None:
            self._forward_logits(tensor[:1])  # learn the output size before mapping labels
        target = torch.from_numpy(self.label_indices(y))
        grads = []
        with self._evaluating():
            for batch in self._batches(len(tensor)):
                inputs = tensor[batch].to(self._device).requires_grad_(True)
                logits = self._two_column(self.module(inputs))
                loss = torch.nn.functional.cross_entropy(
                    logits, target[batch].to(self._device), reduction="sum")
                (grad,) = torch.autograd.grad(loss, inputs)
                grads.append(grad.detach().cpu())
        return torch.cat(grads).numpy()

    def fingerprint(self) -> str:
        """SHA-256 of the parameters and buffers, in state-dict order."""
        return _torch_fingerprint(self.module)


# -- scikit-learn ---------------------------------------------------------------------


class SklearnClassifier(ModelAdapter):
    """Adapter for a fitted scikit-learn classifier (or anything with its API).

    Uses ``predict_proba`` when the estimator has it, otherwise squashes
    ``decision_function`` through a sigmoid (binary) or softmax (multi-class);
    squashed scores rank like probabilities but are not calibrated, so the
    adapter then lacks the ``"probabilities"`` capability.

    Parameters
    ----------
    estimator : fitted classifier
    batch_size : int, default=4096
    """

    framework = "sklearn"

    def __init__(self, estimator: Any, *, batch_size: int = 4096) -> None:
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise ModelError(BAD_VALUE.format(param="model", expected="a fitted classifier with a "
                                              "'classes_' attribute", got=type(estimator).__name__))
        super().__init__(batch_size=batch_size, classes=classes)
        self.estimator = estimator
        self._has_proba = _has_working_method(estimator, "predict_proba")
        if not self._has_proba and not _has_working_method(estimator, "decision_function"):
            raise ModelError(BAD_VALUE.format(param="model", expected="an estimator with "
                                              "predict_proba or decision_function",
                                              got=type(estimator).__name__))
        self.capabilities = frozenset({"predict", "loss", "weights"} |
                                      ({"probabilities"} if self._has_proba else set()))
        self._feature_names = getattr(estimator, "feature_names_in_", None)

    def _frame(self, X: np.ndarray) -> Any:
        if self._feature_names is None:
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=self._feature_names)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, array of shape (n_samples, n_classes)."""
        X = _as_numpy(X)
        out = []
        for batch in self._batches(len(X)):
            part = self._frame(X[batch])
            if self._has_proba:
                out.append(np.asarray(self.estimator.predict_proba(part), dtype=np.float64))
            else:
                scores = np.asarray(self.estimator.decision_function(part), dtype=np.float64)
                out.append(_squash(scores))
        if not out:
            return np.empty((0, self.n_classes))
        return np.concatenate(out)

    def fingerprint(self) -> str | None:
        """SHA-256 of the estimator's pickled state (parameters and everything fitted).

        Pickling here only serialises the user's own object to hash it; nothing
        is ever unpickled.
        """
        import pickle

        try:
            return hashlib.sha256(pickle.dumps(self.estimator, protocol=4)).hexdigest()
        except Exception:  # an estimator holding an unpicklable object: no hash, not a crash
            return None


def _has_working_method(obj: Any, name: str) -> bool:
    # sklearn hides predict_proba behind available_if; hasattr runs that test.
    try:
        return callable(getattr(obj, name, None))
    except AttributeError:
        return False


def _squash(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1:
        positive = 1.0 / (1.0 + np.exp(-scores))
        return np.column_stack([1.0 - positive, positive])
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


# -- plain function -------------------------------------------------------------------


class CallableClassifier(ModelAdapter):
    """Adapter for a black box: a function from inputs to class probabilities.

    Parameters
    ----------
    function : callable
        ``function(X) -> array of shape (n_samples, n_classes)``.
    classes : sequence, optional
        Label of each output column; defaults to ``0 .. n_classes - 1``.
    batch_size : int, default=1024
    """

    capabilities = frozenset({"predict", "probabilities", "loss"})
    framework = "callable"

    def __init__(self, function: Callable[[np.ndarray], Any], *, batch_size: int = 1024,
                 classes: Sequence[Any] | None = None) -> None:
        if not callable(function):
            raise ModelError(BAD_TYPE.format(param="model", expected="a callable",
                                              got=type(function).__name__))
        super().__init__(batch_size=batch_size, classes=classes)
        self.function = function

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, array of shape (n_samples, n_classes)."""
        X = _as_numpy(X)
        out = []
        for batch in self._batches(len(X)):
            proba = np.asarray(_as_numpy(self.function(X[batch])), dtype=np.float64)
            if proba.ndim != 2 or len(proba) != batch.stop - batch.start:
                from ..exceptions import PROBA_BAD_SHAPE

                raise ModelError(PROBA_BAD_SHAPE.format(n=batch.stop - batch.start,
                                                        shape=proba.shape))
            self._set_n_outputs(proba.shape[1])
            out.append(proba)
        if not out:
            return np.empty((0, self.n_classes))
        return np.concatenate(out)


# -- generative models ----------------------------------------------------------------


class GenerativeAdapter(ModelAdapter):
    """Adapter for a generative torch model (VAE, GAN generator).

    The module declares ``generative = True`` and provides
    ``sample(n, *, generator=None) -> Tensor``; a VAE also provides
    ``elbo(x) -> Tensor`` of shape (n,). Classifier checks SKIP on it.

    Parameters
    ----------
    module : torch.nn.Module
    batch_size : int, default=512
    device : str, default="auto"
    """

    framework = "torch-generative"

    def __init__(self, module: nn.Module, *, batch_size: int = 512, device: str = "auto") -> None:
        super().__init__(batch_size=batch_size)
        if not callable(getattr(module, "sample", None)):
            raise ModelError(BAD_VALUE.format(param="model", expected="a generative module with "
                                              "a sample(n, *, generator) method",
                                              got=type(module).__name__))
        self.module = module
        self._device = resolve_device(device)
        self.capabilities = frozenset({"generate", "weights"} |
                                      ({"likelihood"} if callable(getattr(module, "elbo", None))
                                       else set()))

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(self._device)

    @property
    def classes_(self) -> np.ndarray:
        """A generative model has no output classes."""
        raise ModelError(_NOT_CAPABLE.format(what="predict", have=sorted(self.capabilities)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """A generative model has no class probabilities."""
        raise ModelError(_NOT_CAPABLE.format(what="predict", have=sorted(self.capabilities)))

    def sample(self, n: int, *, random_state: int = 0) -> np.ndarray:
        """Draw ``n`` samples with a seeded generator."""
        generator = torch.Generator(device="cpu").manual_seed(int(random_state))
        with _evaluating(self.module, self._device), torch.inference_mode():
            return self.module.sample(n, generator=generator).float().cpu().numpy()

    def elbo(self, X: Any) -> np.ndarray:
        """Per-sample evidence lower bound, array of shape (n_samples,)."""
        if "likelihood" not in self.capabilities:
            raise ModelError(_NOT_CAPABLE.format(what="likelihood", have=sorted(self.capabilities)))
        tensor = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        out = []
        with _evaluating(self.module, self._device), torch.inference_mode():
            for batch in self._batches(len(tensor)):
                out.append(self.module.elbo(tensor[batch].to(self._device)).float().cpu())
        return torch.cat(out).numpy().astype(np.float64)

    def fingerprint(self) -> str:
        """SHA-256 of the parameters and buffers, in state-dict order."""
        return _torch_fingerprint(self.module)


# -- dispatch -------------------------------------------------------------------------


def wrap_model(model: Any, *, batch_size: int | None = None, device: str = "auto",
               classes: Sequence[Any] | None = None,
               feature_layer: str | None = None) -> ModelAdapter:
    """Wrap a model in the adapter that auditkit's checks talk to.

    Parameters
    ----------
    model : torch.nn.Module, fitted scikit-learn classifier, callable or ModelAdapter
        A torch module returns logits (a single logit means binary, read through
        a sigmoid); a scikit-learn estimator is read through ``predict_proba``
        (else ``decision_function``); a plain callable returns probabilities.
    batch_size : int, optional
        Samples per model call (defaults: torch 512, scikit-learn 4096, callable 1024).
    device : str, default="auto"
        Torch only: ``"auto"`` picks CUDA, then MPS, then CPU.
    classes : sequence, optional
        Torch and callables: the label of each output column.
    feature_layer : str, optional
        Torch only: the layer whose output are the features.

    Returns
    -------
    ModelAdapter

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    >>> wrap_model(LogisticRegression().fit(X, y)).predict_proba(X[:2]).shape
    (2, 2)
    """
    if isinstance(model, ModelAdapter):
        return model
    sizes = {} if batch_size is None else {"batch_size": batch_size}
    if isinstance(model, nn.Module) and getattr(model, "generative", False):
        return GenerativeAdapter(model, device=device, **sizes)
    if isinstance(model, nn.Module):
        return TorchClassifier(model, device=device, classes=classes,
                               feature_layer=feature_layer, **sizes)
    if hasattr(model, "fit") and (hasattr(model, "classes_") or hasattr(model, "predict_proba")):
        return SklearnClassifier(model, **sizes)
    if callable(model):
        return CallableClassifier(model, classes=classes, **sizes)
    raise ModelError(BAD_TYPE.format(
        param="model", expected="a torch.nn.Module, a fitted scikit-learn classifier, a callable "
        "returning probabilities, or a ModelAdapter", got=type(model).__name__))
