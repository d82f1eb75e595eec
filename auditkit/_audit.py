"""audit(): run checks on a model and its data, and collect the results.

Model and data are validated where they enter; each check then runs on its
own: one that raises is recorded as ERROR with its traceback and the audit
goes on, one that does not apply is SKIP with the reason. The policy judges
the numbers; the provenance records what was audited, with what, and when.
"""

from __future__ import annotations

import platform
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import numpy as np

from ._device import validate_device
from ._version import __version__
from .checks import Check, CheckContext, Progress, get_check
from .checks._base import track_checks
from .checks._executor import Executor, make_executor
from .exceptions import (
    BAD_RESULT,
    BAD_TYPE,
    BAD_VALUE,
    MODEL_RAISED,
    AuditkitError,
    CheckError,
    ModelError,
)
from .inputs import (
    AuditData,
    ModelAdapter,
    StreamingData,
    check_model_outputs,
    check_output_shape,
    validate_model_on_data,
    wrap_model,
)
from .policy import Policy
from .presets import preset_checks, preset_options
from .results import AuditResult, CheckResult, Status

__all__ = ["audit"]

#: Seeds are passed on to numpy's legacy generator and scikit-learn, which take [0, 2**32).
MAX_SEED = 2**32 - 1
_LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "captum", "shap", "lime", "fairlearn",
              "matplotlib", "jinja2")


def audit(model: Any, data: AuditData | StreamingData, *, preset: str = "standard",
          checks: Sequence[str | Check] | None = None, policy: Policy | str | None = None,
          random_state: int = 0, device: str = "auto", batch_size: int | None = None,
          n_jobs: int = 1, progress: bool | None = None, title: str | None = None,
          model_card: dict[str, Any] | None = None, executor: str | Executor = "local",
          ray_address: str | None = None) -> AuditResult:
    """Audit a trained classifier on its data.

    Parameters
    ----------
    model : torch.nn.Module, fitted scikit-learn classifier, callable or ModelAdapter
        The model; see :func:`auditkit.wrap_model`.
    data : AuditData or StreamingData
        The samples to audit and their context (sensitive features, training
        set, ...). Data too large for memory (:meth:`AuditData.from_parquet`,
        :meth:`AuditData.from_table`, :meth:`AuditData.from_batches`) is read
        once, batch by batch: the performance and group-fairness checks use
        every row, the other checks a seeded sample, and each result says how
        many rows it read (:attr:`CheckResult.rows`).
    preset : str, default="standard"
        Named list of checks, each with the preset's options (see
        :func:`auditkit.preset_options`): ``"quick"``, ``"standard"``, ``"full"``
        or a family name.
    checks : sequence of str or Check, optional
        Run these instead of the preset: registered names, or configured
        check instances such as ``PerformanceMetrics(n_resamples=200)``.
    policy : Policy or str, optional
        The thresholds that judge the metrics: a Policy, or the path of a YAML
        file. Defaults to :meth:`Policy.default`.
    random_state : int, default=0
        Seed of every random choice, in [0, 2**32 - 1]; the same seed gives
        the same results.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, default="auto"
        Torch models: ``"auto"`` picks CUDA, then MPS, then CPU. Validated for
        every model; scikit-learn models and functions run where they run.
    batch_size : int, optional
        Samples per model call.
    n_jobs : int, default=1
        Threads for independent units of work (the local executor).
    progress : bool, optional
        Show progress bars; by default only when standard error is a terminal.
    title : str, optional
        Title of the report.
    model_card : dict, optional
        A model card to show in the report; defaults to the model's
        ``model_card`` attribute (zoo models carry theirs).
    executor : {"local", "ray"} or Executor, default="local"
        Where independent units of work (bootstrap blocks, attack chunks,
        explanation batches, reference models) run: in this process, or as
        tasks on a Ray cluster (``pip install "auditkit[ray]"``). The same seed
        gives the same results on either.
    ray_address : str, optional
        The Ray cluster to join (``"auto"``, ``"host:6379"``); without it, an
        initialised Ray is used or a local cluster started. Only with
        ``executor="ray"``.

    Returns
    -------
    AuditResult

    Raises
    ------
    AuditkitError
        A parameter is not valid (the message names it, what was expected
        and what was given).
    ModelError
        The model fails on the audited samples: it raises, or returns
        something other than probabilities (finite, in [0, 1], summing to one,
        one row per sample). Every batch the model returns is validated, and
        the predictions on ``data.X`` (which the checks share) are made once
        here, before any check runs, so such a model fails at the start with
        one sentence naming the model and the first bad sample, never as a
        NaN inside a check. A model that fails only on inputs a check makes
        (perturbed or generated) turns that check into ERROR with the same
        sentence.

    Examples
    --------
    >>> from auditkit import audit, zoo
    >>> model, data = zoo.load("adult-mlp")
    >>> result = audit(model, data, preset="quick")
    >>> result.save_html("report.html")  # doctest: +SKIP
    """
    started = time.perf_counter()
    start_time = datetime.now(timezone.utc)
    if not isinstance(data, (AuditData, StreamingData)):
        raise AuditkitError(BAD_TYPE.format(param="data", expected="an auditkit.AuditData or "
                                            "StreamingData", got=type(data).__name__))
    _check_options(random_state=random_state, device=device, progress=progress, title=title,
                   model_card=model_card)
    if model_card is None:
        model_card = getattr(model, "model_card", None)
        model_card = dict(model_card) if isinstance(model_card, Mapping) else None
    runner = make_executor(executor, n_jobs=n_jobs, ray_address=ray_address)
    policy = _resolve_policy(policy)
    adapter = model if isinstance(model, ModelAdapter) else wrap_model(
        model, device=device, batch_size=batch_size)
    selected = _resolve_checks(preset, checks)
    if isinstance(data, StreamingData):
        data = _read_stream(data, adapter, runner, progress)
    validate_model_on_data(adapter, data)

    context = CheckContext(random_state=int(random_state), device=adapter.device,
                           progress=Progress(progress), executor=runner)
    _validate_predictions(adapter, data, context)
    results = []
    for check in track_checks(context, selected, adapter, data):
        result = _run_one(check, adapter, data, context)
        if result.status is not Status.SKIP:
            result = result.with_changes(rows=_rows_read(check, data))
        results.append(policy.judge(result))

    recorded_preset, selection = _selection(preset, checks, selected)
    provenance = _provenance(adapter, data, policy, recorded_preset, random_state, start_time,
                             time.perf_counter() - started)
    provenance["selection"] = selection
    provenance["executor"] = executor if isinstance(executor, str) else type(executor).__name__
    return AuditResult(results=tuple(results), provenance=provenance,
                       title=title or (f"Audit of {data.name}" if data.name else "Model audit"),
                       model_card=model_card)


def _read_stream(data: StreamingData, model: ModelAdapter, executor: Executor,
                 progress: bool | None) -> AuditData:
    """One pass over streamed data: every row's predictions, and the sample's inputs."""
    if "predict" not in model.capabilities:
        raise AuditkitError(BAD_TYPE.format(param="data", expected="an AuditData for a model "
                                            "that predicts no classes (streamed data feeds "
                                            "classifier checks)", got="StreamingData"))
    return data.collect(model, executor=executor, progress=Progress(progress))


def _rows_read(check: Check, data: AuditData) -> int:
    """Rows of the audited data a check read: every row for the checks that stream."""
    streams = bool(getattr(check, "streams", False))
    return data.n_rows if streams else data.n_samples


def _check_options(*, random_state: Any, device: Any, progress: Any, title: Any,
                   model_card: Any) -> None:
    """Raise one sentence for the first of audit's own options that is not valid."""
    if isinstance(random_state, (bool, np.bool_)) or \
            not isinstance(random_state, (int, np.integer)) or not 0 <= random_state <= MAX_SEED:
        raise AuditkitError(BAD_VALUE.format(param="random_state",
                                             expected=f"a non-negative integer at most "
                                             f"2**32 - 1 ({MAX_SEED})", got=repr(random_state)))
    validate_device(device)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise AuditkitError(BAD_TYPE.format(param="progress", expected="True, False or None",
                                            got=repr(progress)))
    if title is not None and not isinstance(title, str):
        raise AuditkitError(BAD_TYPE.format(param="title", expected="a str or None",
                                            got=type(title).__name__))
    if model_card is not None and not isinstance(model_card, Mapping):
        raise AuditkitError(BAD_TYPE.format(param="model_card",
                                            expected="a mapping (a dict of section to text) "
                                            "or None", got=type(model_card).__name__))
    if model_card is not None and not all(isinstance(k, str) for k in model_card):
        raise AuditkitError(BAD_VALUE.format(param="model_card", expected="a mapping with "
                                             "str keys", got=f"keys {list(model_card)[:5]!r}"))


def _validate_predictions(model: ModelAdapter, data: AuditData, context: CheckContext) -> None:
    """Predict ``data.X`` once (the checks share it) and validate every row of it.

    The adapters validate each batch as they predict; a user-defined adapter
    may not, so the whole matrix is checked here too (a vectorised pass).
    """
    if "predict" not in model.capabilities:
        return  # a generative model: its checks validate what they use
    try:
        proba = context.test_proba(model, data)
    except AuditkitError:
        raise
    except Exception as exc:  # the user's model: anything may go wrong on a later batch
        raise ModelError(MODEL_RAISED.format(error_type=type(exc).__name__, n=data.n_samples,
                                             shape=data.X.shape, error=exc)) from exc
    check_output_shape(proba, model=model.model_name, rows=data.n_samples, columns=model.n_classes)
    check_model_outputs(proba, model=model.model_name, n=data.n_samples)


def _resolve_policy(policy: Policy | str | None) -> Policy:
    if policy is None:
        return Policy.default()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str) or hasattr(policy, "__fspath__"):
        return Policy.from_yaml(policy)
    raise AuditkitError(BAD_TYPE.format(param="policy", expected="a Policy or a YAML path",
                                        got=type(policy).__name__))


def _resolve_checks(preset: str, checks: Sequence[str | Check] | None) -> list[Check]:
    if checks is None:
        options = preset_options(preset)  # check name -> the preset's options for it
        if not options:
            raise CheckError(BAD_VALUE.format(
                param="preset", expected="a preset with at least one check registered in this "
                "version", got=f"{preset!r}, which has none yet"))
        return [get_check(name, **values) for name, values in options.items()]
    if isinstance(checks, (str, Check)):
        checks = [checks]
    if isinstance(checks, Mapping) or not isinstance(checks, Iterable):
        raise CheckError(BAD_TYPE.format(param="checks", expected="a sequence of check names or "
                                         "Check instances", got=type(checks).__name__))
    resolved = []
    for item in checks:
        if isinstance(item, Check):
            resolved.append(item)
        elif isinstance(item, str):
            resolved.append(get_check(item))
        else:
            raise CheckError(BAD_TYPE.format(param="checks", expected="check names or Check "
                                             "instances", got=type(item).__name__))
    if not resolved:
        raise CheckError(BAD_VALUE.format(param="checks", expected="at least one check",
                                          got="an empty list"))
    return resolved


def _selection(preset: str, checks: Sequence[str | Check] | None,
               selected: Sequence[Check]) -> tuple[str | None, str]:
    """The preset to record and how the checks were chosen.

    ``checks`` that are exactly the preset's checks (the command line's
    ``--option`` passes them, configured) still record the preset, so the
    report says which preset ran and that some options were changed.
    """
    if checks is None:
        return preset, "preset"
    try:
        names = preset_checks(preset)
    except AuditkitError:  # a preset name that means nothing when checks are given
        return None, "checks"
    if names and sorted(names) == sorted(c.name for c in selected):
        return preset, "preset with options"
    return None, "checks"


def _run_one(check: Check, model: ModelAdapter, data: AuditData,
             context: CheckContext) -> CheckResult:
    started = time.perf_counter()
    try:
        result = check.run(model, data, context=context)
        if not isinstance(result, CheckResult):
            raise CheckError(BAD_RESULT.format(check=_check_name(check),
                                               got=_describe_value(result)))
        return result.with_changes(duration_s=round(time.perf_counter() - started, 6))
    except Exception as exc:  # one failing check never stops the audit
        return _error_result(check, exc, time.perf_counter() - started)


def _check_name(check: Check) -> str:
    name = getattr(check, "name", None)
    return name if isinstance(name, str) else type(check).__name__


def _describe_value(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{type(value).__name__} {text}" if value is not None else "None"


def _error_result(check: Check, exc: Exception, duration_s: float) -> CheckResult:
    """ERROR with the exception's sentence; safe even for a check whose attributes are broken."""
    def attribute(name: str, default: Any) -> Any:
        try:
            value = getattr(check, name)
            return value() if callable(value) else value
        except Exception:  # a broken custom check must not break the audit
            return default

    family = attribute("family", "performance")
    description = attribute("description", "")
    comparisons = attribute("comparisons", ())
    return CheckResult(
        name=_check_name(check), family=family if isinstance(family, str) else "performance",
        status=Status.ERROR, headline=f"The check raised {type(exc).__name__}: {exc}",
        params=attribute("params", {}), error=traceback.format_exc(),
        description=description if isinstance(description, str) else "",
        comparisons=tuple(comparisons) if isinstance(comparisons, (tuple, list)) else (),
        duration_s=round(duration_s, 6))


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _provenance(model: ModelAdapter, data: AuditData, policy: Policy, preset: str | None,
                random_state: int, start_time: datetime, duration_s: float) -> dict[str, Any]:
    return {
        "auditkit_version": __version__,
        "python_version": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": _library_versions(),
        "device": model.device,
        "random_state": int(random_state),
        "preset": preset,
        "policy": policy.describe(),
        "model": {
            "framework": model.framework,
            "type": type(getattr(model, "module", None) or getattr(model, "estimator", None)
                         or getattr(model, "function", model)).__name__,
            "classes": [str(c) for c in model.classes_] if "predict" in model.capabilities
            else None,
            "capabilities": sorted(model.capabilities),
            "weights_sha256": model.fingerprint(),
        },
        "data": data.describe(),
        "started_at": start_time.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
    }
