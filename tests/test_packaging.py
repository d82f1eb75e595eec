"""Packaging: every package and data file reaches the wheel; the import stays light."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

needs_source_tree = pytest.mark.skipif(not PYPROJECT.is_file(),
                                       reason="run from an installed copy: no pyproject.toml")


@pytest.fixture(scope="module")
def setuptools_config() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]


def _package_dirs(config: dict) -> dict[str, Path]:
    """Source directory of every package listed in pyproject.toml."""
    mapping = config.get("package-dir", {})
    out = {}
    for package in config["packages"]:
        parts = package.split(".")
        for i in range(len(parts), 0, -1):  # the longest mapped prefix wins
            prefix = ".".join(parts[:i])
            if prefix in mapping:
                out[package] = ROOT / mapping[prefix] / Path(*parts[i:])
                break
        else:
            out[package] = ROOT / Path(*parts)
    return out


@needs_source_tree
def test_every_package_under_auditkit_is_listed(setuptools_config):
    listed = set(setuptools_config["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "auditkit").rglob("__init__.py")}
    assert "auditkit.checks" in found
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"


@needs_source_tree
def test_every_package_of_the_zoo_and_templates_is_listed(setuptools_config):
    listed = set(setuptools_config["packages"])
    mapping = setuptools_config["package-dir"]
    for package, source in mapping.items():
        for init in (ROOT / source).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / source).parts
            name = ".".join((package, *relative))
            assert name in listed, f"{name} ({init.parent}) is not in [tool.setuptools] packages"


@needs_source_tree
def test_every_listed_package_exists(setuptools_config):
    for package, directory in _package_dirs(setuptools_config).items():
        assert directory.is_dir(), f"{package} -> {directory} does not exist"
        assert any(directory.glob("*.py")), f"{package} -> {directory} holds no Python file"


def _package_data_misses(config: dict, package: str, directory: Path) -> list[str]:
    patterns = config.get("package-data", {}).get(package, [])
    return [p.name for p in sorted(directory.iterdir())
            if p.is_file() and p.suffix not in (".py", ".pyc")
            and not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)]


@needs_source_tree
def test_every_template_is_package_data(setuptools_config):
    templates = ROOT / "reports" / "templates"
    assert setuptools_config["package-dir"]["auditkit._templates"] == "reports/templates"
    assert "auditkit._templates" in setuptools_config["packages"]
    misses = _package_data_misses(setuptools_config, "auditkit._templates", templates)
    assert not misses, f"templates no package-data pattern ships: {misses}"


@needs_source_tree
def test_every_data_file_is_package_data(setuptools_config):
    for package, directory in _package_dirs(setuptools_config).items():
        misses = _package_data_misses(setuptools_config, package, directory)
        assert not misses, f"{package}: files no package-data pattern ships: {misses}"


def test_import_does_not_load_heavy_optional_libraries():
    heavy = ["matplotlib", "shap", "lime", "captum"]
    code = ("import sys, auditkit; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120, check=True)
    assert completed.stdout.strip() == "", f"imported by 'import auditkit': {completed.stdout}"


def test_installed_package_ships_its_data():
    import auditkit
    from auditkit import zoo
    from auditkit.policy import Policy

    assert Policy.default().name == "auditkit-default"
    package = Path(auditkit.__file__).parent
    assert (package / "policy" / "default.yaml").is_file()
    zoo_dir = Path(zoo.__file__).parent
    assert (zoo_dir / "data" / "SOURCES.json").is_file()
    assert (zoo_dir / "checkpoints" / "adult-mlp.safetensors").is_file()


# -- the wheel itself -------------------------------------------------------------------

_NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                     "__pycache__", ".*_cache", ".hypothesis")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    """Names inside a wheel built offline from a clean copy of the source tree.

    The lines of its METADATA come along, prefixed with ``METADATA:``.
    """
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools")
    source = tmp_path_factory.mktemp("source") / "auditkit"
    # A copy: a stale build/ folder in the checkout would leak old files into the wheel.
    shutil.copytree(ROOT, source, ignore=_NOT_COPIED)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "--no-index", "--disable-pip-version-check",
                            "-q", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=600)
    if built.returncode and "No module named" in built.stderr:  # no network: nothing to fetch
        pytest.skip(f"the build backend is not installed: {built.stderr.strip()[-300:]}")
    assert built.returncode == 0, built.stderr[-4000:]
    (wheel,) = out.glob("auditkit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return names | {f"METADATA:{line}" for line in
                        archive.read(metadata).decode("utf-8").splitlines()}


@needs_source_tree
@pytest.mark.parametrize("package", ["performance", "explanations", "fairness", "robustness",
                                     "generative"])
def test_wheel_ships_every_family(wheel_names, package):
    assert f"auditkit/checks/{package}/__init__.py" in wheel_names


@needs_source_tree
def test_wheel_ships_the_library_resources(wheel_names):
    for name in ("__init__.py", "SOURCES.json", "LICENSES.md", "weat_terms.json",
                 "wordnet_synonyms.json.xz"):
        assert f"auditkit/_resources/{name}" in wheel_names
    assert "auditkit/checks/generative/_metrics.py" in wheel_names
    assert "auditkit/zoo/data/SOURCES.json" in wheel_names
    assert "auditkit/policy/default.yaml" in wheel_names


@needs_source_tree
def test_wheel_leaves_out_the_maintainer_scripts(wheel_names):
    files = [n for n in wheel_names if not n.startswith("METADATA:")]
    assert not [n for n in files if n.endswith("_vendor.py") or "vendor_data" in n]
    assert not [n for n in files if n.startswith(("tools/", "tests/", "benchmarks/",
                                                  "examples/"))]


@needs_source_tree
def test_wheel_declares_scipy(wheel_names):
    requires = {line.split(":", 2)[2].strip() for line in wheel_names
                if line.startswith("METADATA:Requires-Dist:")}
    assert any(r.startswith("scipy") for r in requires), requires
