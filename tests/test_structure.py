"""The layout holds: who may import whom, and registration that cannot be forgotten.

Import graph (read from the source with ``ast``, relative imports resolved): a
family package under ``auditkit.checks`` never imports another family; the
report never imports the checks (what it needs travels in the results); the
library never imports the zoo, except the lazy ``auditkit.zoo`` attribute; the
results import neither the checks nor the report at module level.

Registration: every public module of a family package defines exactly one
registered check of that family, exported by the family's ``__init__`` and by
``auditkit.checks``, documented option by option, with evidence clauses and
rules in the default policy; every figure kind a check emits can be drawn.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from conftest import CONTRACT_MODELS

import auditkit
import auditkit.checks
from auditkit import Policy, Status, list_checks
from auditkit.checks import FAMILIES, check_class

PACKAGE_DIR = Path(auditkit.__file__).resolve().parent
CHECKS_DIR = PACKAGE_DIR / "checks"
FAMILY_PACKAGES = sorted(p.name for p in CHECKS_DIR.iterdir()
                         if (p / "__init__.py").is_file() and not p.name.startswith("_"))


@dataclass(frozen=True)
class Import:
    """One import statement's target module, where it is and whether it runs at import time."""

    importer: str
    target: str
    line: int
    module_level: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(path: Path) -> list[Import]:
    """Every import in the module at ``path``: absolute names, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, alias.name, child.lineno, module_level)
                             for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                found.append(Import(module, source, child.lineno, module_level))
                # "from . import x" may import the submodule x
                found.extend(Import(module, f"{source}.{alias.name}", child.lineno, module_level)
                             for alias in child.names if alias.name != "*")
            elif (isinstance(child, ast.Call) and isinstance(child.func, (ast.Name, ast.Attribute))
                  and getattr(child.func, "attr", getattr(child.func, "id", None)) in (
                      "import_module", "__import__")
                  and child.args and isinstance(child.args[0], ast.Constant)
                  and isinstance(child.args[0].value, str)):
                found.append(Import(module, child.args[0].value, child.lineno, False))
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, False)  # never runs
            else:
                visit(child, module_level)

    visit(ast.parse(path.read_text("utf-8"), filename=str(path)), True)
    return found


ALL_IMPORTS = [imp for path in sorted(PACKAGE_DIR.rglob("*.py")) for imp in _imports_of(path)]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _where(imports: list[Import]) -> list[str]:
    return sorted({f"{i.importer}:{i.line} imports {i.target}" for i in imports})


def test_the_import_walker_sees_the_package():
    importers = {i.importer for i in ALL_IMPORTS}
    assert {"auditkit", "auditkit.checks", "auditkit.report", "auditkit.results"} <= importers
    assert set(FAMILY_PACKAGES) <= set(FAMILIES)
    assert {"performance", "explanations", "fairness", "robustness"} <= set(FAMILY_PACKAGES)
    # relative imports resolve: the checks package imports its families
    assert {"auditkit.checks.robustness", "auditkit.checks._base"} <= {
        i.target for i in ALL_IMPORTS if i.importer == "auditkit.checks"}


@pytest.mark.parametrize("family", FAMILY_PACKAGES)
def test_a_family_never_imports_another_family(family):
    own = f"auditkit.checks.{family}"
    others = [f"auditkit.checks.{f}" for f in FAMILY_PACKAGES if f != family]
    bad = [i for i in ALL_IMPORTS if _within(i.importer, own)
           and any(_within(i.target, other) for other in others)]
    assert not bad, _where(bad)


def test_the_report_never_imports_the_checks():
    bad = [i for i in ALL_IMPORTS if _within(i.importer, "auditkit.report")
           and _within(i.target, "auditkit.checks")]
    assert not bad, _where(bad)


#: Modules that may import the zoo lazily (inside a function): the ``auditkit.zoo``
#: attribute, and the command line's ``--zoo NAME``, a front end to the zoo.
ZOO_FRONT_ENDS = ("auditkit", "auditkit.cli")


def test_the_library_never_imports_the_zoo():
    # an installed package holds the zoo too (auditkit/zoo/): the zoo may import itself
    bad = [i for i in ALL_IMPORTS if _within(i.target, "auditkit.zoo")
           and not _within(i.importer, "auditkit.zoo")
           and not (i.importer in ZOO_FRONT_ENDS and not i.module_level)]
    assert not bad, _where(bad)


def test_the_results_import_neither_checks_nor_report_at_module_level():
    bad = [i for i in ALL_IMPORTS if _within(i.importer, "auditkit.results") and i.module_level
           and (_within(i.target, "auditkit.checks") or _within(i.target, "auditkit.report"))]
    assert not bad, _where(bad)


# --- registration -------------------------------------------------------------------------

REGISTERED = {check_class(name) for name in list_checks()}
CHECK_MODULES = [(family, path.stem) for family in FAMILY_PACKAGES
                 for path in sorted((CHECKS_DIR / family).glob("*.py"))
                 if not path.stem.startswith("_")]


@pytest.mark.parametrize("family, module", CHECK_MODULES)
def test_every_check_module_registers_one_check_of_its_family(family, module):
    package = importlib.import_module(f"auditkit.checks.{family}")
    loaded = importlib.import_module(f"auditkit.checks.{family}.{module}")
    defined = [c for c in vars(loaded).values()
               if inspect.isclass(c) and c.__module__ == loaded.__name__ and c in REGISTERED]
    assert len(defined) == 1, (f"auditkit.checks.{family}.{module} defines the registered "
                               f"checks {[c.__name__ for c in defined]}; one expected")
    cls = defined[0]
    assert cls.family == family
    assert cls.name.startswith(f"{family}_")
    assert cls.__name__ in package.__all__
    assert getattr(package, cls.__name__) is cls


@pytest.mark.parametrize("name", list_checks())
def test_every_check_is_a_public_class(name):
    cls = check_class(name)
    assert getattr(auditkit.checks, cls.__name__) is cls
    assert cls.__name__ in auditkit.checks.__all__
    assert cls.__module__.startswith(f"auditkit.checks.{cls.family}.")


_ENTRY = re.compile(r"^\*{0,2}(\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::|$)")


def _documented_parameters(docstring: str | None) -> set[str]:
    """The names listed in the Parameters section of a numpydoc docstring."""
    lines = inspect.cleandoc(docstring or "").splitlines()
    names: set[str] = set()
    for start in range(len(lines) - 1):
        if lines[start].strip() == "Parameters" and set(lines[start + 1].strip()) == {"-"}:
            break
    else:
        return names
    for i in range(start + 2, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # the next section
        if line and not line[0].isspace():
            match = _ENTRY.match(line)
            if match:
                names.update(n.strip().lstrip("*") for n in match.group(1).split(","))
    return names


def test_documented_parameters_reads_numpydoc():
    doc = """Summary.

    Parameters
    ----------
    n_samples : int, default=64
        How many.
    left, right : float

    Returns
    -------
    x : int
    """
    assert _documented_parameters(doc) == {"n_samples", "left", "right"}


@pytest.mark.parametrize("name", list_checks())
def test_every_option_is_documented(name):
    cls = check_class(name)
    missing = {f.name for f in fields(cls)} - _documented_parameters(cls.__doc__)
    assert not missing, f"{cls.__name__}'s docstring does not list the options {sorted(missing)}"


POLICY = Policy.default()


@pytest.mark.parametrize("name", list_checks())
def test_every_check_has_evidence_and_rules_in_the_default_policy(name):
    assert POLICY.evidence.get(name), f"no evidence clauses for {name!r} in default.yaml"
    assert set(POLICY.evidence[name]) <= set(POLICY.clauses)
    unruled = [m for m in check_class(name).verdict_metrics if POLICY.rule(name, m) is None]
    assert not unruled, f"{name}: verdict metrics without a rule in default.yaml: {unruled}"


def test_the_default_policy_names_only_registered_checks():
    names = set(list_checks())
    assert not {r.check for r in POLICY.rules} - names
    assert not set(POLICY.evidence) - names


# --- what the real results carry ------------------------------------------------------------


def _real_results(name, contract_result):
    results = [contract_result(name, kind)[1] for kind in CONTRACT_MODELS]
    return [r for r in results if r.status is not Status.SKIP]


@pytest.mark.parametrize("name", list_checks())
def test_verdict_metrics_are_in_the_real_results(name, contract_result):
    emitted = {m for r in _real_results(name, contract_result) for m in r.metrics}
    missing = set(check_class(name).verdict_metrics) - emitted
    assert not missing, f"{name} never emits its verdict metrics {sorted(missing)}"


# --- every figure draws ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list_checks())
def test_every_emitted_figure_kind_has_a_plotter(name, contract_result):
    from auditkit.report._plots import can_draw

    kinds = {figure.kind for result in _real_results(name, contract_result)
             for figure in result.figures.values()}
    undrawn = sorted(k for k in kinds if not can_draw(k))
    assert not undrawn, f"{name} emits figure kinds no plotter draws: {undrawn}"
