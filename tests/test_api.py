"""The public API: every name importable from ``netsplit``, each with a docstring example that runs."""

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netsplit

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", netsplit.__all__)
def test_public_name_has_an_example_that_passes(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # examples read the published records under results/
    obj = getattr(netsplit, name)
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(obj, name) if t.examples]
    assert tests, f"netsplit.{name} has no docstring example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_package_docstring_example_passes():
    failures, tried = doctest.testmod(netsplit, verbose=False)
    assert tried and not failures


def test_importing_the_package_changes_no_environment_variable():
    code = ("import json, os; before = dict(os.environ); import netsplit; "
            "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def test_public_names_do_not_shadow_keras():
    import keras

    clashes = [name for name in netsplit.__all__ if hasattr(keras, name) or hasattr(keras.layers, name)]
    assert not clashes, f"names that read as Keras' own: {clashes}"


def test_no_public_name_is_also_a_module():
    """A submodule of the same name would replace the public name once anything imports it."""
    modules = {path.stem for path in (ROOT / "netsplit").glob("*.py")}
    assert not modules & set(netsplit.__all__)
