"""The ``auditkit`` command.

::

    auditkit audit --zoo adult-mlp --out report.html [--json result.json] [--pdf report.pdf]
    auditkit audit my_audit.py:build --out report.html
    auditkit report result.json --out report.html
    auditkit compare a.json b.json [c.json ...] --out diff.html [--names A,B]
        [--fail-on-regression]
    auditkit zoo list | info NAME | train NAME [--device cuda]
    auditkit checks
    auditkit keygen --out key.pem
    auditkit sign result.json --key key.pem --signer "Name <email>" [--report report.html]
    auditkit verify result.json [--sig result.json.sig] [--report report.html] [--public-key PUB]
    auditkit --version

Exit codes (see ``_EXIT_CODES``): 0 passed the gate; 1 failed the gate
(``--fail-on``, ``compare --fail-on-regression``, ``verify``); 2 bad input or
usage, including an exception raised by the user's own ``PATH.py:FUNCTION``;
3 an internal error of auditkit. Errors end with a one-line message on standard
error. The command imports the checks (and torch) only inside the command that
needs them, so ``auditkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._text import visible
from ._version import __version__
from .exceptions import BAD_VALUE, AuditkitError

__all__ = ["main"]

_EXIT_BAD_INPUT = 2
_EXIT_VERDICT = 1
_EXIT_INTERNAL = 3
_EXIT_CODES = """exit codes:
  0  the command passed its gate
  1  a gate failed: the verdict reached --fail-on, compare --fail-on-regression found a
     regression, or verify found tampering
  2  bad input or usage: wrong arguments, an invalid policy, an unreadable input, an
     unwritable output (checked before the audit runs), or an exception raised by your
     own PATH.py:FUNCTION
  3  an internal error of auditkit (run with --debug and report the traceback)
A check that raises during an audit is that check's ERROR verdict, not a crash."""
_SEVERITY = {"never": None, "error": "ERROR", "fail": "FAIL", "warn": "WARN"}


class _CliError(AuditkitError):
    """A mistake in how the command was called."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditkit", description="Audit trained models and write reports an auditor can read.",
        epilog=_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("audit", help="audit a model and write the report",
                              epilog=_EXIT_CODES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("target", nargs="?", help="PATH.py:FUNCTION returning (model, data)")
    run.add_argument("--zoo", metavar="NAME", help="audit a zoo model (see 'auditkit zoo list')")
    run.add_argument("--out", metavar="HTML", help="HTML report path (default: report.html)")
    run.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    run.add_argument("--pdf", metavar="PATH", help="also write the report as PDF")
    _evidence_options(run)
    run.add_argument("--junit", metavar="XML", help="also write JUnit XML for CI, one test "
                     "case per check (classname = family): FAIL is a failure, ERROR an error, "
                     "SKIP skipped; WARN passes with the warning in system-out (a failure "
                     "with --fail-on warn)")
    run.add_argument("--preset", default="standard", help="quick, standard, full or a family")
    run.add_argument("--checks", metavar="A,B", help="comma-separated check names (instead of "
                     "the preset)")
    run.add_argument("--option", metavar="[CHECK.]NAME=VALUE", action="append", default=[],
                     help="set a check's option, e.g. robustness_pgd.steps=40; without CHECK "
                     "it applies to every check of the run that has the option (e.g. "
                     "n_samples=200); repeatable")
    run.add_argument("--policy", metavar="YAML", help="policy file with thresholds")
    run.add_argument("--seed", type=int, default=0, help="random state (default 0)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    run.add_argument("--jobs", type=int, default=1, help="threads for independent work "
                     "(local executor)")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="where independent units of work run: this process (local) or a Ray "
                     "cluster (ray; needs pip install \"auditkit[ray]\")")
    run.add_argument("--ray-address", metavar="ADDRESS", help="the Ray cluster to join (e.g. "
                     "auto or host:6379); without it a local Ray cluster is started")
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    run.add_argument("--fail-on", choices=sorted(_SEVERITY), default="never",
                     help="exit with 1 when the verdict is this bad or worse (ERROR > FAIL "
                     "> WARN); output paths are checked before the audit runs")

    report = commands.add_parser("report", help="render a saved JSON result")
    report.add_argument("result", help="a JSON file written by 'auditkit audit --json'")
    report.add_argument("--out", metavar="HTML", help="HTML report path")
    report.add_argument("--pdf", metavar="PATH", help="PDF report path")
    _evidence_options(report)

    compare = commands.add_parser("compare", help="put two or more saved JSON results side "
                                  "by side")
    compare.add_argument("results", nargs="*", metavar="RESULT",
                         help="JSON files written by 'auditkit audit --json' (the first is "
                         "the baseline)")
    compare.add_argument("--out", metavar="HTML", help="comparison report path (default: "
                         "comparison.html)")
    compare.add_argument("--names", metavar="A,B", help="comma-separated label per result")
    compare.add_argument("--fail-on-regression", action="store_true",
                         help="exit with 1 when a metric got worse than in the first result "
                         "with non-overlapping intervals (metrics without an interval or a "
                         "direction are not gates), including the rows of tables that checks "
                         "declare for comparison (fairness disparities per feature); the "
                         "regressions are printed, largest first")

    zoo = commands.add_parser("zoo", help="the reference models")
    zoo_commands = zoo.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND")
    zoo_commands.add_parser("list", help="list the zoo's models")
    info = zoo_commands.add_parser("info", help="show a model's card")
    info.add_argument("name")
    train = zoo_commands.add_parser("train", help="retrain a model and write its checkpoint")
    train.add_argument("name")
    train.add_argument("--device", default="auto")
    train.add_argument("--out-dir", metavar="DIR", help="where to write (default: the shipped "
                       "checkpoints)")

    commands.add_parser("checks", help="list the registered checks and presets")
    _add_signing_commands(commands)
    return parser


def _add_signing_commands(commands: Any) -> None:
    keygen = commands.add_parser("keygen", help="write a new Ed25519 signing key pair")
    keygen.add_argument("--out", metavar="PEM", required=True,
                        help="private key path (mode 0600); the public key goes to NAME.pub.pem")
    sign = commands.add_parser("sign", help="write a dated, detached signature of a result")
    sign.add_argument("result", help="a JSON file written by 'auditkit audit --json'")
    sign.add_argument("--key", metavar="PEM", required=True, help="Ed25519 private key")
    sign.add_argument("--signer", metavar='"NAME <EMAIL>"', required=True, help="who signs")
    sign.add_argument("--report", metavar="PATH", help="also bind this report file by its hash")
    sign.add_argument("--out", metavar="SIG", help="signature path (default: RESULT.sig)")
    verify = commands.add_parser("verify", help="check a signed result (exit 1 if tampered)")
    verify.add_argument("result", help="the signed JSON result")
    verify.add_argument("--sig", metavar="SIG", help="signature path (default: RESULT.sig)")
    verify.add_argument("--report", metavar="PATH", help="also check this report's hash")
    verify.add_argument("--public-key", metavar="PEM", help="the signer's public key (without "
                        "it, the key inside the signature file is used)")


def _signing(args: argparse.Namespace) -> int:
    from . import signing

    if args.command == "keygen":
        private = signing.generate_key(args.out)
        print(f"Wrote {private.resolve()} (private, mode 0600)")
        print(f"Wrote {signing.public_key_path_for(private).resolve()} (public)")
        return 0
    if args.command == "sign":
        written = signing.sign(args.result, args.key, signer=args.signer,
                               report_path=args.report, out=args.out)
        print(f"Wrote {written.resolve()}")
        return 0
    found = signing.verify(args.result, args.sig, report_path=args.report,
                           public_key=args.public_key)
    if not found.ok:
        print(visible(f"auditkit: verify failed: {found.reason}"), file=sys.stderr)
        return 1  # a failed verification is a failed gate, not bad input
    print(visible(found.summary()))
    print(visible(found.reason))
    print(f"Result SHA-256 (canonical JSON): {found.result_sha256}")
    if found.report_sha256:
        print(f"Report SHA-256: {found.report_sha256}")
    return 0


def _load_target(target: str) -> tuple[Any, Any]:
    path_text, sep, function_name = target.rpartition(":")
    if not sep or not path_text or not function_name:
        raise _CliError(f"The 'target' argument must look like PATH.py:FUNCTION. Got {target!r} "
                        "instead.")
    path = Path(path_text)
    if not path.is_file():
        raise _CliError(f"The 'target' argument must name an existing Python file. Got "
                        f"{path_text!r}, which does not exist.")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise _CliError(f"The 'target' file {path_text!r} cannot be imported as Python.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report it as bad input, in one line
        problem = " ".join(str(exc).split())
        raise _CliError(f"The 'target' file {path_text!r} raised {type(exc).__name__} when "
                        f"imported: {problem}") from exc
    finally:
        sys.path.pop(0)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _CliError(f"The 'target' file {path_text!r} must define a function "
                        f"{function_name!r}. Got {type(function).__name__} instead.")
    try:
        built = function()
    except Exception as exc:  # the user's code: bad input, named, in one line
        problem = " ".join(str(exc).split())
        raise _CliError(f"The 'target' function {target!r} raised {type(exc).__name__}: "
                        f"{problem}") from exc
    if isinstance(built, dict) and {"model", "data"} <= set(built):
        return built["model"], built["data"]
    if isinstance(built, tuple) and len(built) == 2:
        return built
    raise _CliError(f"The function {function_name!r} must return (model, data) or a dict with "
                    f"'model' and 'data'. Got {type(built).__name__} instead.")


def _with_options(names: list[str] | None, preset: str, options: list[str]) -> list[Any]:
    """Check instances of the run, with ``--option`` values applied."""
    import ast
    from dataclasses import fields

    from .checks import check_class, get_check
    from .presets import preset_options

    # Without --checks, the preset's own options apply first; --option overrides them.
    defaults = preset_options(preset) if names is None else {name: {} for name in names}
    per_check: dict[str, dict[str, Any]] = {name: {} for name in defaults}
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not key.strip():
            raise _CliError(f"The '--option' value must look like CHECK.NAME=VALUE or "
                            f"NAME=VALUE. Got {option!r} instead.")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        check, _, param = key.strip().rpartition(".")
        if check:
            if check not in per_check:
                raise _CliError(f"The '--option' {option!r} names check {check!r}, which this "
                                f"run does not include: {sorted(per_check)}.")
            per_check[check][param] = value
            continue
        takers = [n for n in per_check
                  if param in {f.name for f in fields(check_class(n))}]  # type: ignore[arg-type]
        if not takers:
            raise _CliError(f"No check of this run has the option {param!r} given by "
                            f"'--option {option}'.")
        for name in takers:
            per_check[name].setdefault(param, value)
    return [get_check(name, **{**defaults[name], **params}) for name, params in per_check.items()]


def _audit(args: argparse.Namespace) -> int:
    from . import audit
    from .results import Status

    if bool(args.zoo) == bool(args.target):
        raise _CliError("Give exactly one of --zoo NAME or PATH.py:FUNCTION. Got "
                        + ("both" if args.zoo else "neither") + ".")
    _check_writable(("--out", args.out or "report.html"), ("--json", args.json),
                    ("--pdf", args.pdf), ("--junit", args.junit),
                    ("--model-card", args.model_card), ("--compliance", args.compliance))
    if args.pdf:
        _require_pdf()
    if args.ray_address is not None and args.executor != "ray":
        raise _CliError(f"The '--ray-address' option needs '--executor ray'. Got --executor "
                        f"{args.executor} instead.")
    if args.executor == "ray":
        from .checks._ray import ray_available

        if not ray_available():
            raise _CliError('The Ray executor needs Ray: pip install "auditkit[ray]" (or pip '
                            "install ray). Got no module named 'ray'.")
    started = time.perf_counter()
    if args.zoo:
        from . import zoo

        model, data = zoo.load(args.zoo)
    else:
        model, data = _load_target(args.target)
    checks = [c.strip() for c in args.checks.split(",") if c.strip()] if args.checks else None
    if args.option:
        checks = _with_options(checks, args.preset, args.option)
    result = audit(model, data, preset=args.preset, checks=checks, policy=args.policy,
                   random_state=args.seed, device=args.device, n_jobs=args.jobs,
                   executor=args.executor, ray_address=args.ray_address,
                   progress=False if args.quiet else None,
                   title=f"Audit of {args.zoo}" if args.zoo else None)
    out = Path(args.out or "report.html")
    written = [result.save_html(out)]
    if args.json:
        written.append(result.save_json(args.json))
    if args.pdf:
        written.append(result.save_pdf(args.pdf))
    if args.junit:
        path = Path(args.junit)
        path.write_text(_junit_xml(result, args.fail_on), encoding="utf-8")
        written.append(path)
    written += _write_evidence(result, args)
    if not args.quiet:
        _print_summary(result)
        for path in written:
            print(f"Wrote {path.resolve()}")
        print(f"Done in {time.perf_counter() - started:.1f} s. Verdict: {result.status.value}.")
    threshold = _SEVERITY[args.fail_on]
    if threshold and result.status.severity >= Status(threshold).severity:
        return _EXIT_VERDICT
    return 0


def _print_summary(result: Any) -> None:
    width = max(len(r.name) for r in result.results) if result.results else 10
    for r in result.results:
        print(visible(f"  {r.status.value:<5}  {r.name:<{width}}  {r.headline}"))


def _report(args: argparse.Namespace) -> int:
    from .results import AuditResult

    path = Path(args.result)
    if not path.is_file():
        raise _CliError("The 'result' argument must be an existing JSON file. "
                        f"Got {args.result!r}.")
    _check_writable(("--out", args.out or str(path.with_suffix(".html"))), ("--pdf", args.pdf),
                    ("--model-card", args.model_card), ("--compliance", args.compliance))
    if args.pdf:
        _require_pdf()
    try:
        result = AuditResult.load_json(path)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _CliError(f"The 'result' file {args.result!r} is not an auditkit JSON result "
                        f"({type(exc).__name__}: {exc}).") from exc
    from .signing import with_signature

    result = with_signature(result, path)  # "Signed by ... on ..." when result.json.sig verifies
    out = Path(args.out or path.with_suffix(".html"))
    print(f"Wrote {result.save_html(out).resolve()}")
    if args.pdf:
        print(f"Wrote {result.save_pdf(args.pdf).resolve()}")
    for written in _write_evidence(result, args):
        print(f"Wrote {written.resolve()}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .results import AuditResult

    if len(args.results) < 2:
        raise _CliError("The 'compare' command needs at least two JSON results. Got "
                        f"{len(args.results)} instead.")
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    if names is not None and (len(names) != len(args.results) or len(set(names)) != len(names)
                              or not all(names)):
        raise _CliError(f"The '--names' option must give one distinct label per result "
                        f"({len(args.results)}). Got {args.names!r} instead.")
    _check_writable(("--out", args.out or "comparison.html"))
    audits = []
    for text in args.results:
        path = Path(text)
        if not path.is_file():
            raise _CliError(f"The 'results' argument must name existing JSON files. Got "
                            f"{text!r}, which does not exist.")
        try:
            audits.append(AuditResult.load_json(path))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError,
                ValueError) as exc:
            problem = " ".join(str(exc).split())
            raise _CliError(f"The 'results' file {text!r} is not an auditkit JSON result "
                            f"({type(exc).__name__}: {problem}).") from exc
    out = Path(args.out or "comparison.html")
    written = audits[0].save_comparison_html(out, *audits[1:], names=names)
    print(f"Wrote {written.resolve()}")
    if not args.fail_on_regression:
        return 0
    from .report import find_regressions

    labels = names or [a.title for a in audits]
    found = sorted(((r.size, f"{labels[i]}: {r.line}")
                    for i, other in enumerate(audits[1:], start=1)
                    for r in find_regressions(audits[0], other)), key=lambda x: -x[0])
    if not found:
        print(f"No regression: no metric got worse than in {labels[0]} with intervals apart.")
        return 0
    print(f"{len(found)} regression(s) against {labels[0]}, largest first:")
    for _, line in found:
        print(visible(f"  {line}"))
    return _EXIT_VERDICT


def _require_pdf() -> None:
    """Fail before any work when the PDF engine (WeasyPrint and Pango) is missing."""
    from .report._pdf import require_pdf_engine

    require_pdf_engine()


def _evidence_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-card", metavar="JSON", help="also write the model card "
                        "(Mitchell et al. sections, from the audit and the model's own card) as "
                        "Model Card Toolkit JSON")
    parser.add_argument("--compliance", metavar="JSON", help="also write the compliance map: "
                        "per requirement (EU AI Act, NIST AI RMF), the checks that give "
                        "evidence and their status")


def _write_evidence(result: Any, args: argparse.Namespace) -> list[Path]:
    """The model card and compliance files the options ask for; their paths."""
    written = []
    if args.model_card:
        from .model_card import save_model_card

        written.append(save_model_card(result, args.model_card))
    if args.compliance:
        from .compliance import compliance_frame

        path = Path(args.compliance)
        frame = compliance_frame(result)
        path.write_text(frame.to_json(orient="records", indent=2), encoding="utf-8")
        written.append(path)
    return written


def _check_writable(*options: tuple[str, str | None]) -> None:
    """Raise unless each ``(option, path)`` can be written: checked before any long work."""
    import tempfile

    for option, text in options:
        if text is None:
            continue
        path = Path(text)
        folder = path.parent
        if path.is_dir():
            problem = "which is a folder"
        elif not folder.is_dir():
            problem = f"whose folder {str(folder)!r} does not exist"
        elif path.exists() and not os.access(path, os.W_OK):
            problem = "which exists and is read-only"
        else:
            try:  # what a write needs, without leaving a file behind (also read-only mounts)
                with tempfile.TemporaryFile(dir=folder):
                    pass
                problem = ""
            except OSError as exc:
                problem = f"whose folder {str(folder)!r} is not writable ({exc.strerror})"
        if problem:
            raise _CliError(BAD_VALUE.format(param=option, expected="a file path auditkit can "
                                             "write", got=f"{text!r}, {problem},"))


def _junit_text(text: Any) -> str:
    """``text`` without the characters XML 1.0 cannot hold (ElementTree escapes the rest)."""
    return "".join(c for c in str(text) if (c in "\t\n\r" or ord(c) >= 0x20)
                   and not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")


def _junit_xml(result: Any, fail_on: str) -> str:
    """JUnit XML of an audit: one test case per check, so CI systems list each check.

    FAIL is a ``<failure>``, ERROR an ``<error>``, SKIP ``<skipped>``; WARN passes with
    the warning in ``<system-out>``, unless ``fail_on`` is ``"warn"`` (then it fails, as
    the exit code does).
    """
    import xml.etree.ElementTree as ET

    from .results import Status

    failing = {Status.FAIL, Status.WARN} if fail_on == "warn" else {Status.FAIL}
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    suites = ET.Element("testsuites", name="auditkit")
    suite = ET.SubElement(suites, "testsuite", name=_junit_text(result.title),
                          tests=str(len(result.results)))
    properties = ET.SubElement(suite, "properties")
    policy = (result.provenance or {}).get("policy") or {}
    for name, value in (("verdict", result.status.value), ("fail_on", fail_on),
                        ("policy", policy.get("name", "")), ("auditkit", __version__)):
        ET.SubElement(properties, "property", name=name, value=_junit_text(value))
    total = 0.0
    for check in result.results:
        total += check.duration_s or 0.0
        case = ET.SubElement(suite, "testcase", classname=check.family, name=check.name,
                             time=f"{check.duration_s or 0.0:.3f}")
        headline = _junit_text(check.headline)
        detail = "\n".join([f"{check.status.value}: {headline}"] + [
            _junit_text(f"{t.metric} = {t.observed:.6g} ({t.direction.replace('_', ' ')}; "
                        f"warn {t.warn}, fail {t.fail}): {t.status.value}")
            for t in check.thresholds])
        if check.status in failing:
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=headline, type=check.status.value).text = detail
        elif check.status is Status.ERROR:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=headline, type="ERROR").text = _junit_text(
                check.error or headline)
        elif check.status is Status.SKIP:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=headline)
        note = (f"WARN (passes the gate --fail-on {fail_on}): " if check.status is Status.WARN
                and check.status not in failing else "")
        ET.SubElement(case, "system-out").text = note + detail
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total:.3f}")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _zoo(args: argparse.Namespace) -> int:
    from . import zoo

    if args.zoo_command in (None, "list"):
        for name in zoo.list_models():
            card = zoo.info(name)
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in card.get("metrics", {}).items()
                                if isinstance(v, (int, float)))
            print(f"{name:<24} {card.get('summary', '')}\n{'':<24} {metrics}")
        return 0
    if args.zoo_command == "info":
        print(json.dumps({k: v for k, v in zoo.info(args.name).items()
                          if k not in ("preprocessing", "feature_names")}, indent=2))
        return 0
    card = zoo.train(args.name, device=args.device, directory=args.out_dir)
    print(json.dumps({"name": card["name"], "metrics": card["metrics"],
                      "device": card["training"]["device"],
                      "duration_s": card["training"]["duration_s"],
                      "checkpoint": card["checkpoint"]}, indent=2))
    return 0


def _checks() -> int:
    from .checks import check_class, list_checks
    from .presets import list_presets, preset_checks

    for name in list_checks():
        cls = check_class(name)
        print(f"{cls.family:<12} {name:<32} {cls.description}")
    print()
    for preset in list_presets():
        print(f"preset {preset:<12} {', '.join(preset_checks(preset)) or '(no checks yet)'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return _EXIT_BAD_INPUT
    try:
        if args.command == "audit":
            return _audit(args)
        if args.command == "report":
            return _report(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "zoo":
            return _zoo(args)
        if args.command in ("keygen", "sign", "verify"):
            return _signing(args)
        return _checks()
    except AuditkitError as exc:
        if args.debug:
            raise
        print(visible(f"auditkit: error: {exc}"), file=sys.stderr)
        return _EXIT_BAD_INPUT
    except OSError as exc:  # an input that cannot be read, an output that cannot be written
        if args.debug:
            raise
        print(visible(f"auditkit: error: {exc}"), file=sys.stderr)
        return _EXIT_BAD_INPUT
    except Exception as exc:  # anything else is auditkit's own bug: say so briefly
        if args.debug:
            raise
        problem = " ".join(str(exc).split())
        print(visible(f"auditkit: internal error: {type(exc).__name__}: {problem} (a bug in "
                      "auditkit: run with --debug for the traceback and report it)"),
              file=sys.stderr)
        return _EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
