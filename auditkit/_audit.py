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
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import numpy as np

from ._version import __version__
from .checks import Check, CheckContext, LocalExecutor, Progress, get_check
from .exceptions import BAD_TYPE, BAD_VALUE, AuditkitError, CheckError
from .inputs import AuditData, ModelAdapter, validate_model_on_data, wrap_model
from .policy import Policy
from .presets import preset_checks, preset_options
from .results import AuditResult, CheckResult, Status

__all__ = ["audit"]

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "captum", "shap", "lime", "fairlearn",
              "matplotlib", "jinja2")


def audit(model: Any, data: AuditData, *, preset: str = "standard",
          checks: Sequence[str | Check] | None = None, policy: Policy | str | None = None,
          random_state: int = 0, device: str = "auto", batch_size: int | None = None,
          n_jobs: int = 1, progress: bool | None = None, title: str | None = None,
          model_card: dict[str, Any] | None = None) -> AuditResult:
    """Audit a trained classifier on its data.

    Parameters
    ----------
    model : torch.nn.Module, fitted scikit-learn classifier, callable or ModelAdapter
        The model; see :func:`auditkit.wrap_model`.
    data : AuditData
        The samples to audit and their context (sensitive features, training set, ...).
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
        Seed of every random choice; the same seed gives the same results.
    device : str, default="auto"
        Torch models: CUDA, then MPS, then CPU.
    batch_size : int, optional
        Samples per model call.
    n_jobs : int, default=1
        Workers for independent units of work.
    progress : bool, optional
        Show progress bars; by default only when standard error is a terminal.
    title : str, optional
        Title of the report.
    model_card : dict, optional
        A model card to show in the report; defaults to the model's
        ``model_card`` attribute (zoo models carry theirs).

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> from auditkit import audit, zoo
    >>> model, data = zoo.load("adult-mlp")
    >>> result = audit(model, data, preset="quick")
    >>> result.save_html("report.html")  # doctest: +SKIP
    """
    started = time.perf_counter()
    model_card = model_card if model_card is not None else getattr(model, "model_card", None)
    start_time = datetime.now(timezone.utc)
    if not isinstance(data, AuditData):
        raise AuditkitError(BAD_TYPE.format(param="data", expected="an auditkit.AuditData",
                                            got=type(data).__name__))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) \
            or random_state < 0:
        raise AuditkitError(BAD_VALUE.format(param="random_state",
                                             expected="a non-negative integer",
                                             got=repr(random_state)))
    policy = _resolve_policy(policy)
    adapter = model if isinstance(model, ModelAdapter) else wrap_model(
        model, device=device, batch_size=batch_size)
    validate_model_on_data(adapter, data)
    selected = _resolve_checks(preset, checks)

    context = CheckContext(random_state=int(random_state), device=adapter.device,
                           progress=Progress(progress), executor=LocalExecutor(n_jobs))
    results = []
    with context.progress.bar(total=len(selected), description="auditkit") as bar:
        for check in selected:
            bar.set_postfix_str(check.name)
            results.append(policy.judge(_run_one(check, adapter, data, context)))
            bar.update(1)

    recorded_preset, selection = _selection(preset, checks, selected)
    provenance = _provenance(adapter, data, policy, recorded_preset, random_state, start_time,
                             time.perf_counter() - started)
    provenance["selection"] = selection
    return AuditResult(results=tuple(results), provenance=provenance,
                       title=title or (f"Audit of {data.name}" if data.name else "Model audit"),
                       model_card=model_card)


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
    except Exception as exc:  # one failing check never stops the audit
        result = CheckResult(
            name=check.name, family=check.family, status=Status.ERROR,
            headline=f"The check raised {type(exc).__name__}: {exc}",
            params=check.params(), error=traceback.format_exc(),
            description=check.description, comparisons=check.comparisons)
    return result.with_changes(duration_s=round(time.perf_counter() - started, 6))


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
