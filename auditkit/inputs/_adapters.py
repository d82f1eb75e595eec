"""Model adapters: one small interface over PyTorch, scikit-learn and plain functions.

Checks never branch on the framework and never reach into ``.module`` or
``.estimator``. They ask a :class:`ModelAdapter` for ``predict_proba``, and,
when its ``capabilities`` say so, for ``logits`` (as arrays, or as
differentiable tensors with :meth:`~ModelAdapter.logits_tensor`), ``features``
(penultimate-layer embeddings), per-sample ``loss``, ``input_gradient``, a
named ``layer``, a weight-randomised copy, and a refitted clone. Every call is
batched; torch calls run in eval mode under ``torch.inference_mode()`` (except
gradients) and restore the module's mode. Generative models have their own
protocol (:mod:`._generative`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._device import resolve_device
from ..exceptions import BAD_TYPE, BAD_VALUE, MODEL_BAD_OUTPUT, PROBA_BAD_SHAPE, ModelError

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_DESCRIPTIONS",
    "CallableClassifier",
    "LAYER_KINDS",
    "ModelAdapter",
    "SklearnClassifier",
    "TorchClassifier",
    "check_model_outputs",
    "check_output_shape",
]

#: Every capability an adapter (classifier or generative) may declare.
CAPABILITIES = frozenset({
    "predict", "probabilities", "logits", "gradients", "features", "loss", "weights",
    "layers", "randomize", "refit",
    "generate", "encode", "decode", "reconstruct", "likelihood", "discriminator",
})

#: What each capability means, for SKIP reasons and the report.
CAPABILITY_DESCRIPTIONS = {
    "predict": "class predictions",
    "probabilities": "calibrated class probabilities (predict_proba)",
    "logits": "raw class scores (logits)",
    "gradients": "gradients with respect to its inputs",
    "features": "penultimate-layer features",
    "loss": "a per-sample loss",
    "weights": "readable weights",
    "layers": "named internal layers (convolution, embedding, linear)",
    "randomize": "a copy with re-initialised weights",
    "refit": "refitting a fresh copy on new data (a scikit-learn estimator, or a torch "
             "module with a training function)",
    "generate": "sampling new data (a generative model)",
    "encode": "encoding data into its latent space",
    "decode": "decoding latent codes into data",
    "reconstruct": "reconstructing data through its encoder and decoder (an autoencoder)",
    "likelihood": "a per-sample likelihood bound (ELBO)",
    "discriminator": "a discriminator score (a GAN's discriminator)",
}

#: Kinds of layer :meth:`ModelAdapter.layer` finds.
LAYER_KINDS = ("conv", "embedding", "linear")

_TABULAR_BATCH = 8192
_NOT_CAPABLE = "The model does not provide '{what}': it has capabilities {have}."
_NOT_FITTED = (
    "The model's output size is not known yet: call predict_proba on some data first "
    "(audit() does this for you)."
)
_NO_REFIT = "a {framework} model cannot be refitted"
_NO_TRAIN_FN = ("a torch module is refitted through a training function: pass "
                "wrap_model(module, train_fn=fn) with fn(module, X, y, *, random_state) -> module")
_NO_RANDOMIZE = ("The model does not provide 'randomize': only torch modules and scikit-learn "
                 "MLPs can be re-initialised; this is {what}.")
_NO_FEATURES_SKLEARN = ("The model does not provide 'features': a scikit-learn {what} has no "
                        "hidden layer (features exist for an MLPClassifier, or a Pipeline, "
                        "whose last step then reads the features).")


_SUM_TOLERANCE = 1e-4
_SOFTMAX_ADVICE = ("; if the model returns scores or logits, apply a softmax in the function "
                   "you audit, or pass the torch module itself")


def _as_numpy(X: Any) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return np.asarray(X)


def check_model_outputs(outputs: np.ndarray, *, model: str, start: int = 0, n: int | None = None,
                        kind: str = "probabilities") -> None:
    """Raise one sentence naming the model and the first bad sample unless outputs are valid.

    Called on every batch a model returns, so a model that goes wrong after the
    first rows is caught where it happens, not as a NaN deep inside a check.
    Vectorised: a few passes over the batch, no extra model call.

    Parameters
    ----------
    outputs : ndarray of shape (batch, n_classes)
        What the model returned for the batch.
    model : str
        The model's name for the message (its class or function name).
    start : int, default=0
        Index of the batch's first sample within the call, so the message
        names the sample's index in the array the model was given.
    n : int, optional
        Samples in the whole call (for the message); the batch's size by default.
    kind : {"probabilities", "logits"}, default="probabilities"
        Probabilities must be finite, in [0, 1] and sum to one per row;
        logits only finite.

    Raises
    ------
    ModelError
        The outputs are not finite, or (probabilities) not in [0, 1] summing to one.
    """
    n = len(outputs) if n is None else n
    bad = ~np.isfinite(outputs).all(axis=1)
    if bad.any():
        raise ModelError(MODEL_BAD_OUTPUT.format(
            model=repr(model), expected=f"finite {kind}", got="NaN or an infinite value",
            index=start + int(np.flatnonzero(bad)[0]), n=n, advice=""))
    if kind != "probabilities" or outputs.size == 0:
        return
    sums = outputs.sum(axis=1)
    bad = (np.abs(sums - 1.0) > _SUM_TOLERANCE) | (outputs.min(axis=1) < -_SUM_TOLERANCE) \
        | (outputs.max(axis=1) > 1.0 + _SUM_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ModelError(MODEL_BAD_OUTPUT.format(
            model=repr(model), expected="probabilities in [0, 1] that sum to one",
            got=f"values from {outputs[row].min():.6g} to {outputs[row].max():.6g} summing to "
                f"{sums[row]:.6g}", index=start + row, n=n, advice=_SOFTMAX_ADVICE))


def check_output_shape(outputs: np.ndarray, *, model: str, rows: int,
                       columns: int | None) -> None:
    """Raise :class:`ModelError` unless ``outputs`` is ``(rows, columns)`` (``columns`` >= 2).

    Parameters
    ----------
    outputs : ndarray
    model : str
        The model's name for the message.
    rows : int
        Samples the model was given.
    columns : int or None
        The number of classes when known; None accepts any number from two.
    """
    if outputs.ndim != 2 or len(outputs) != rows or (
            outputs.shape[1] < 2 if columns is None else outputs.shape[1] != columns):
        width = "n_classes >= 2" if columns is None else f"n_classes={columns}"
        raise ModelError(PROBA_BAD_SHAPE.format(model=repr(model), n=rows, width=width,
                                                shape=outputs.shape))


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

    def logits_and_features(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(logits(X), features(X))``; adapters that can share one forward pass do."""
        return self.logits(X), self.features(X)

    def input_gradient(self, X: Any, y: Any) -> np.ndarray:
        """Gradient of the per-sample loss with respect to the input, shaped like X."""
        raise ModelError(_NOT_CAPABLE.format(what="gradients", have=sorted(self.capabilities)))

    def logits_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits of a batch already on the model's device.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, ...)

        Returns
        -------
        torch.Tensor of shape (batch, n_classes)
        """
        raise ModelError(_NOT_CAPABLE.format(what="gradients", have=sorted(self.capabilities)))

    def evaluating(self) -> contextlib.AbstractContextManager[None]:
        """Context in which the model is in eval mode (restored afterwards); else a no-op."""
        return contextlib.nullcontext()

    def frozen(self) -> contextlib.AbstractContextManager[None]:
        """Context in which the weights take no gradients (e.g. during attacks); else a no-op."""
        return contextlib.nullcontext()

    def layer(self, name: str | None = None, *, kind: str) -> object | None:
        """An internal layer: the one called ``name``, else the default layer of ``kind``.

        Parameters
        ----------
        name : str, optional
            The layer's name (as in ``named_modules()`` for torch).
        kind : {"conv", "embedding", "linear"}
            Without a name: the last 2-D convolution, the first embedding
            (the token embedding), or the last linear layer.

        Returns
        -------
        object or None
            The layer, or None when the model has none of that kind.
        """
        raise ModelError(_NOT_CAPABLE.format(what="layers", have=sorted(self.capabilities)))

    def randomized_copy(self, seed: int, *, layers: str | int = "all") -> ModelAdapter:
        """A new adapter over a copy of the model with re-initialised weights.

        The model's own weights are untouched (the sanity checks of
        explanations compare the two, Adebayo et al., 2018).

        Parameters
        ----------
        seed : int
            Seed of the new weights.
        layers : "all" or int, default="all"
            Re-initialise every layer, or only the last ``k`` layers with
            weights (the cascading randomisation test).

        Returns
        -------
        ModelAdapter
        """
        raise ModelError(_NOT_CAPABLE.format(what="randomize", have=sorted(self.capabilities)))

    @property
    def refit_unavailable_reason(self) -> str | None:
        """Why :meth:`fit_clone` cannot refit this model (a sentence), or None when it can."""
        if "refit" in self.capabilities:
            return None
        return (_NOT_CAPABLE.format(what="refit", have=sorted(self.capabilities))[:-1] +
                "; " + _NO_REFIT.format(framework=self.framework) + ".")

    def clone_untrained(self, *, random_state: int | None = None) -> object:
        """A fresh, unfitted copy of the underlying model (same hyper-parameters).

        Parameters
        ----------
        random_state : int, optional
            Seed of the copy's initial weights; by default the model's own
            (scikit-learn) or 0 (torch).

        Returns
        -------
        object
            A scikit-learn estimator (unfitted) or a torch module (re-initialised).
        """
        raise ModelError(self.refit_unavailable_reason or _NO_REFIT.format(
            framework=self.framework))

    def fit_clone(self, X: Any, y: Any, *, sample_weight: Any = None,
                  random_state: int = 0) -> ModelAdapter:
        """Fit a fresh copy of the model on ``(X, y)`` and wrap it like this one.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        random_state : int, default=0
            Seed of the copy's initialisation and training.

        Returns
        -------
        ModelAdapter
            The fitted copy, an adapter of the same class.
        """
        raise ModelError(self.refit_unavailable_reason or _NO_REFIT.format(
            framework=self.framework))

    def model_input(self, X: Any) -> Any:
        """``X`` as the underlying model takes it (e.g. a DataFrame with its feature names)."""
        return X

    def attribution_baseline(self, X: Any) -> np.ndarray | None:
        """The model's own stand-in for removed inputs (shaped like ``X``), or None.

        Explanations remove parts of an input (time steps, features); a model
        may say what "removed" means for it (e.g. a sequence model's padding)
        with an ``attribution_baseline`` method. None when it does not.
        """
        return None

    def fingerprint(self) -> str | None:
        """SHA-256 of the model's parameters, or None when they cannot be read."""
        return None

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return "cpu"

    @property
    def model_name(self) -> str:
        """What messages call the model: its class (or function) name."""
        return type(self).__name__

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


def _check_layers(layers: Any) -> str | int:
    if layers == "all" and isinstance(layers, str):
        return "all"
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool) and layers >= 1:
        return int(layers)
    raise ModelError(BAD_VALUE.format(param="layers", expected="'all' or a positive int "
                                      "(the last k layers with weights)", got=repr(layers)))


def _reset_layers(module: nn.Module, seed: int, layers: str | int) -> None:
    """Re-initialise the module's layers in place under ``torch.manual_seed(seed)``."""
    resettable = [m for m in module.modules()
                  if m is not module and callable(getattr(m, "reset_parameters", None))]
    if layers != "all":
        owning = [m for m in resettable if next(m.parameters(recurse=False), None) is not None]
        resettable = owning[-int(layers):]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for layer in resettable:
            layer.reset_parameters()


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
    train_fn : callable, optional
        ``train_fn(module, X, y, *, random_state) -> module`` trains the given
        freshly initialised copy of the module on ``(X, y)`` (numpy arrays,
        labels in the model's label space) and returns it; it may also accept
        ``sample_weight=``. With it the adapter can :meth:`fit_clone`
        (capability ``"refit"``), for reference and shadow models.
    """

    _BASE_CAPABILITIES = frozenset({"predict", "probabilities", "logits", "gradients",
                                    "features", "loss", "weights", "layers", "randomize"})
    capabilities = _BASE_CAPABILITIES
    framework = "torch"

    def __init__(self, module: nn.Module, *, batch_size: int | None = None, device: str = "auto",
                 classes: Sequence[Any] | None = None, feature_layer: str | None = None,
                 train_fn: Callable[..., nn.Module] | None = None) -> None:
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
        if train_fn is not None and not callable(train_fn):
            raise ModelError(BAD_TYPE.format(param="train_fn", expected="a callable "
                                              "train_fn(module, X, y, *, random_state) -> module",
                                              got=type(train_fn).__name__))
        self.train_fn = train_fn
        self.capabilities = self._BASE_CAPABILITIES | ({"refit"} if train_fn else set())

    @property
    def device(self) -> str:
        """The device the model runs on."""
        return str(self._device)

    @property
    def model_name(self) -> str:
        """The module's class name."""
        return type(self.module).__name__

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

    def logits_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable logits of a batch already on the model's device.

        Binary single-logit models give two columns [-z/2, z/2] (the same
        softmax as the sigmoid of z), so that every classifier looks
        multi-class to gradient-based methods and both classes have gradients.
        The caller puts the module in eval mode (see :meth:`evaluating`).
        """
        return self._two_column(self.module(x))

    #: Former name of :meth:`logits_tensor`.
    forward_logits = logits_tensor

    def evaluating(self) -> contextlib.AbstractContextManager[None]:
        """Context in which the module is in eval mode on the adapter's device."""
        return self._evaluating()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Context in which the parameters take no gradients; each flag is restored after.

        Attacks differentiate the inputs only: backward passes then skip the
        weight gradients, which roughly halves their cost.
        """
        flags = [(p, p.requires_grad) for p in self.module.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)

    def layer(self, name: str | None = None, *, kind: str) -> nn.Module | None:
        """The layer called ``name``, else the default torch layer of ``kind``.

        Parameters
        ----------
        name : str, optional
            A name from ``module.named_modules()``.
        kind : {"conv", "embedding", "linear"}
            The default layer's kind; the first embedding is the token
            embedding (positional embeddings come after it).

        Returns
        -------
        torch.nn.Module or None
            None when ``name`` is None and the module has no layer of that kind.
        """
        if kind not in LAYER_KINDS:
            raise ModelError(BAD_VALUE.format(param="kind", expected=f"one of {list(LAYER_KINDS)}",
                                              got=repr(kind)))
        if name is not None:
            modules = dict(self.module.named_modules())
            if name not in modules:
                raise ModelError(BAD_VALUE.format(
                    param="layer", expected=f"one of {sorted(k for k in modules if k)[:40]}",
                    got=repr(name)))
            return modules[name]
        types = {"conv": nn.Conv2d, "embedding": nn.Embedding, "linear": nn.Linear}[kind]
        found = [m for m in self.module.modules() if isinstance(m, types)]
        if not found:
            return None
        return found[0] if kind == "embedding" else found[-1]

    def _like(self, module: nn.Module) -> TorchClassifier:
        """A new adapter over ``module`` with this one's settings."""
        clone = TorchClassifier(module, batch_size=None if self._auto_batch else self.batch_size,
                                device=self.device, classes=self._classes,
                                feature_layer=self.feature_layer, train_fn=self.train_fn)
        clone._binary_single_logit = self._binary_single_logit
        return clone

    def randomized_copy(self, seed: int, *, layers: str | int = "all") -> TorchClassifier:
        """A new adapter over a deep copy whose layers are re-initialised, seeded.

        Each submodule with ``reset_parameters`` is reset, in module order,
        under ``torch.manual_seed(seed)`` (the global generator is restored
        afterwards); with an int ``k`` only the last ``k`` layers that own
        parameters are.

        Parameters
        ----------
        seed : int
        layers : "all" or int, default="all"

        Returns
        -------
        TorchClassifier
        """
        module = copy.deepcopy(self.module)
        _reset_layers(module, seed, _check_layers(layers))
        return self._like(module)

    def clone_untrained(self, *, random_state: int | None = None) -> nn.Module:
        """A deep copy of the module with every layer re-initialised (seeded; default seed 0).

        Raises
        ------
        ModelError
            Without a ``train_fn`` (see :attr:`refit_unavailable_reason`).
        """
        if self.train_fn is None:
            raise ModelError(self.refit_unavailable_reason)
        module = copy.deepcopy(self.module)
        _reset_layers(module, 0 if random_state is None else int(random_state), "all")
        return module

    def fit_clone(self, X: Any, y: Any, *, sample_weight: Any = None,
                  random_state: int = 0) -> TorchClassifier:
        """Train a re-initialised copy with ``train_fn`` and wrap it like this adapter.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Passed to ``train_fn`` as ``sample_weight=`` when given.
        random_state : int, default=0

        Returns
        -------
        TorchClassifier
        """
        module = self.clone_untrained(random_state=random_state)
        extra = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)}
        # Writable copies: the audit's arrays are read-only, and torch warns on those.
        trained = self.train_fn(module, np.array(_as_numpy(X)),  # type: ignore[misc]
                                np.array(_as_numpy(y)), random_state=int(random_state), **extra)
        if not isinstance(trained, nn.Module):
            raise ModelError(BAD_TYPE.format(param="train_fn", expected="a function returning "
                                              "the trained torch.nn.Module",
                                              got=f"one returning {type(trained).__name__}"))
        return self._like(trained)

    def attribution_baseline(self, X: Any) -> np.ndarray | None:
        """The module's ``attribution_baseline(x)`` of ``X`` when it has one, else None."""
        hook = getattr(self.module, "attribution_baseline", None)
        if not callable(hook):
            return None
        X = np.asarray(X)
        with torch.no_grad():
            return np.asarray(_as_numpy(hook(torch.as_tensor(X))), dtype=X.dtype)

    @property
    def refit_unavailable_reason(self) -> str | None:
        """Why :meth:`fit_clone` cannot refit this model, or None when it can."""
        if self.train_fn is not None:
            return None
        return f"The model cannot be refitted: {_NO_TRAIN_FN}."

    def _forward_logits(self, X: Any) -> torch.Tensor:
        """Logits of the whole of X, on the CPU, batched."""
        tensor = self._to_tensor(X)
        chunks = []
        size = _TABULAR_BATCH if (self._auto_batch and tensor.ndim == 2
                                  and tensor.is_floating_point()) else self.batch_size
        with self._evaluating(), torch.inference_mode():
            for batch in self._batches(len(tensor), size):
                out = self._two_column(self.module(tensor[batch].to(self._device))).float().cpu()
                if not bool(torch.isfinite(out).all()):
                    check_model_outputs(out.numpy(), model=self.model_name, start=batch.start,
                                        n=len(tensor), kind="logits")
                chunks.append(out)
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
        return self.logits_and_features(X)[1]

    def logits_and_features(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Logits and penultimate-layer embeddings of ``X`` from one forward pass."""
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
            logits = self._forward_logits(X)
        finally:
            handle.remove()
        return (logits.numpy().astype(np.float64),
                torch.cat(captured).numpy().astype(np.float64))

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

    Beyond predictions: ``features`` for an ``MLPClassifier`` (its last
    hidden layer's activations) or a ``Pipeline`` (an MLP last step: its last
    hidden layer after the pipeline's transforms; another last step: the
    transformed input that step reads); ``randomized_copy`` for an MLP
    (Glorot-uniform weights, as scikit-learn initialises them); ``fit_clone``
    and ``clone_untrained`` through :func:`sklearn.base.clone`.

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
        self._feature_names = getattr(estimator, "feature_names_in_", None)
        self._final, self._transforms = _split_pipeline(estimator)
        extra = set()
        if _is_mlp(self._final) or self._transforms is not None:
            extra.add("features")
        if _is_mlp(self._final):
            extra.add("randomize")
        if _has_working_method(estimator, "get_params") and \
                _has_working_method(estimator, "fit"):
            extra.add("refit")
        self.capabilities = frozenset({"predict", "loss", "weights"} | extra |
                                      ({"probabilities"} if self._has_proba else set()))

    def _frame(self, X: np.ndarray) -> Any:
        if self._feature_names is None:
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=self._feature_names)

    def model_input(self, X: Any) -> Any:
        """``X`` as a DataFrame with the estimator's feature names when it was fitted on one."""
        return self._frame(_as_numpy(X))

    def features(self, X: Any) -> np.ndarray:
        """Last hidden layer of an MLP, else the input of a pipeline's last step.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        if "features" not in self.capabilities:
            raise ModelError(_NO_FEATURES_SKLEARN.format(what=type(self._final).__name__))
        X = _as_numpy(X)
        out = []
        for batch in self._batches(len(X)):
            part = self._frame(X[batch])
            if self._transforms is not None:
                part = self._transforms.transform(part)
            part = np.asarray(part.toarray() if hasattr(part, "toarray") else part,
                              dtype=np.float64)
            out.append(_mlp_hidden(self._final, part) if _is_mlp(self._final) else part)
        if not out:
            return np.empty((0, 0))
        return np.concatenate(out)

    def randomized_copy(self, seed: int, *, layers: str | int = "all") -> SklearnClassifier:
        """A new adapter over a deep copy of the MLP with Glorot-uniform weights, seeded.

        Parameters
        ----------
        seed : int
        layers : "all" or int, default="all"
            Every layer, or only the last ``k`` weight matrices.

        Returns
        -------
        SklearnClassifier
        """
        if "randomize" not in self.capabilities:
            raise ModelError(_NO_RANDOMIZE.format(what=f"a {type(self._final).__name__}"))
        layers = _check_layers(layers)
        estimator = copy.deepcopy(self.estimator)
        final, _ = _split_pipeline(estimator)
        rng = np.random.RandomState(int(seed))
        n = len(final.coefs_)
        chosen = range(n) if layers == "all" else range(max(0, n - int(layers)), n)
        # scikit-learn's _init_coef: uniform in +-sqrt(factor / (fan_in + fan_out)).
        factor = 2.0 if final.activation == "logistic" else 6.0
        for i in chosen:
            fan_in, fan_out = final.coefs_[i].shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            dtype = final.coefs_[i].dtype
            final.coefs_[i] = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
            final.intercepts_[i] = rng.uniform(-bound, bound, fan_out).astype(dtype)
        return SklearnClassifier(estimator, batch_size=self.batch_size)

    @property
    def refit_unavailable_reason(self) -> str | None:
        """Why :meth:`fit_clone` cannot refit this model, or None when it can."""
        if "refit" in self.capabilities:
            return None
        return (f"The model cannot be refitted: a {type(self.estimator).__name__} has no "
                "scikit-learn get_params/fit to clone it.")

    def clone_untrained(self, *, random_state: int | None = None) -> Any:
        """An unfitted :func:`sklearn.base.clone` of the estimator.

        With ``random_state``, every ``random_state`` parameter of the
        estimator (also of a pipeline's steps) is set to it; by default the
        clone keeps the estimator's own.
        """
        if "refit" not in self.capabilities:
            raise ModelError(self.refit_unavailable_reason)
        from sklearn.base import clone

        estimator = clone(self.estimator)
        seeds = {} if random_state is None else {
            k: int(random_state) for k in estimator.get_params(deep=True)
            if k == "random_state" or k.endswith("__random_state")}
        if seeds:
            estimator.set_params(**seeds)
        return estimator

    def fit_clone(self, X: Any, y: Any, *, sample_weight: Any = None,
                  random_state: int = 0) -> SklearnClassifier:
        """Fit :meth:`clone_untrained` on ``(X, y)`` and wrap it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Passed to ``fit`` (to a pipeline's last step).
        random_state : int, default=0

        Returns
        -------
        SklearnClassifier
        """
        estimator = self.clone_untrained(random_state=random_state)
        extra: dict[str, Any] = {}
        if sample_weight is not None:
            key = "sample_weight" if self._transforms is None else \
                f"{self.estimator.steps[-1][0]}__sample_weight"
            extra[key] = np.asarray(sample_weight)
        try:
            estimator.fit(self._frame(_as_numpy(X)), _as_numpy(y), **extra)
        except TypeError as exc:
            if not extra:
                raise
            raise ModelError(BAD_VALUE.format(param="sample_weight", expected="None for an "
                                              "estimator whose fit takes no sample_weight",
                                              got=f"weights ({exc})")) from exc
        return SklearnClassifier(estimator, batch_size=self.batch_size)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, array of shape (n_samples, n_classes)."""
        X = _as_numpy(X)
        out = []
        for batch in self._batches(len(X)):
            part = self._frame(X[batch])
            if self._has_proba:
                raw = np.asarray(self.estimator.predict_proba(part))
                proba = raw.astype(np.float64)
                renormalise = raw.dtype != np.float64  # float32 rows sum to 1 within 1e-7
            else:
                proba = _squash(np.asarray(self.estimator.decision_function(part),
                                           dtype=np.float64))
            check_output_shape(proba, model=self.model_name, rows=batch.stop - batch.start,
                         columns=self.n_classes)
            check_model_outputs(proba, model=self.model_name, start=batch.start, n=len(X))
            if self._has_proba and renormalise:
                proba = proba / proba.sum(axis=1, keepdims=True)
            out.append(proba)
        if not out:
            return np.empty((0, self.n_classes))
        return np.concatenate(out)

    @property
    def model_name(self) -> str:
        """The estimator's class name."""
        return type(self.estimator).__name__

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


def _split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """(final estimator, the pipeline of all earlier steps or None)."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and len(steps) > 1 and hasattr(estimator, "__getitem__"):
        return steps[-1][1], estimator[:-1]
    if isinstance(steps, list) and len(steps) == 1:
        return steps[0][1], None
    return estimator, None


def _is_mlp(estimator: Any) -> bool:
    from sklearn.neural_network import MLPClassifier

    return isinstance(estimator, MLPClassifier) and hasattr(estimator, "coefs_")


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "logistic": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
}


def _mlp_hidden(mlp: Any, X: np.ndarray) -> np.ndarray:
    """Activations of the MLP's last hidden layer (its input if it has none)."""
    activation = _ACTIVATIONS[mlp.activation]
    out = X
    for coef, intercept in zip(mlp.coefs_[:-1], mlp.intercepts_[:-1], strict=True):
        out = activation(out @ coef + intercept)
    return out


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

    @property
    def model_name(self) -> str:
        """The function's name (its class name for a callable object)."""
        name = getattr(self.function, "__name__", None)
        return name if isinstance(name, str) else type(self.function).__name__

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, array of shape (n_samples, n_classes)."""
        X = _as_numpy(X)
        out = []
        for batch in self._batches(len(X)):
            proba = _as_numpy(self.function(X[batch]))
            try:
                proba = np.asarray(proba, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ModelError(BAD_TYPE.format(
                    param="model", expected="a function returning a numeric array of "
                    "probabilities", got=f"one returning {type(proba).__name__} ({exc})")) from exc
            check_output_shape(proba, model=self.model_name, rows=batch.stop - batch.start,
                         columns=None)
            self._set_n_outputs(proba.shape[1])
            check_model_outputs(proba, model=self.model_name, start=batch.start, n=len(X))
            out.append(proba)
        if not out:
            return np.empty((0, self.n_classes))
        return np.concatenate(out)
