"""environment.yml and pyproject.toml name the same dependencies; the library installs without the book's."""

import ast
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["book"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if p != "-e .") == sorted(declared)
    assert "-e ." in pip


def test_license_is_an_spdx_expression():
    """A license table makes setuptools print a deprecation warning on every install; a string does not."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(pyproject["project"]["license"], str)
    assert "setuptools>=77" in pyproject["build-system"]["requires"], "SPDX strings need setuptools 77"


def test_the_library_imports_nothing_only_the_book_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    book_only = {"matplotlib", "seaborn", "statsmodels", "yaml", "papermill", "IPython", "jupyter_book"}
    assert {requirement.split(">")[0] for requirement in project["optional-dependencies"]["book"]} >= {
        "matplotlib", "seaborn", "statsmodels", "pyyaml", "papermill"}
    library = [path for path in (ROOT / "netsplit").rglob("*.py") if "study" not in path.parts]
    for path in library:
        nodes = list(ast.walk(ast.parse(path.read_text())))
        imported = {alias.name.split(".")[0] for node in nodes if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in nodes if isinstance(node, ast.ImportFrom)}
        assert not imported & book_only, f"{path.relative_to(ROOT)} imports {imported & book_only}, which only the book installs"
