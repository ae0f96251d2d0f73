"""make reproduce: bad input refused at once with nothing left behind; a failing chapter in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netsplit.study import reproduce

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m netsplit.study.reproduce`` in the repository, writing under ``tmp_path``; its last line of
    output says whether Keras or papermill was imported."""
    argv = ["--output-dir", str(tmp_path / "out"), "--records-dir", str(tmp_path / "records"), *args]
    code = ("import sys\nfrom netsplit.study.reproduce import main\nstatus = main(%r)\n"
            "print('keras' in sys.modules or 'papermill' in sys.modules)\nsys.exit(status)" % argv)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def assert_refused(tmp_path: Path, args: list[str], message: str) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"reproduce: error: {message}"]
    assert done.stdout.strip() == "False", "refused before papermill or Keras is imported"
    assert not list(tmp_path.iterdir()), "a refused run leaves nothing behind"


def test_an_unknown_profile_is_refused_at_once(tmp_path):
    assert_refused(tmp_path, ["--profile", "nope"], "unknown profile 'nope'; profiles are smoke, class, cpu, gpu, paper")


@pytest.mark.parametrize("args", [["--dataset", "mnist"], ["-p", "dataset", "mnist"]], ids=["option", "parameter"])
def test_an_unknown_dataset_is_refused_before_any_chapter_runs(tmp_path, args):
    assert_refused(tmp_path, [*args, "--notebooks", "vgg16"],
                   "unknown dataset 'mnist'; valid datasets are cifar10, fashion_mnist, synthetic, folder:PATH "
                   "(a sub-folder of images per class) and npz:PATH (x_train, y_train, x_test, y_test)")


@pytest.mark.parametrize("name,value,message", [
    ("threshold", "abc", "threshold must be a number, got 'abc'"),
    ("baseline_epochs", "2.5", "baseline_epochs must be an integer, got 2.5"),
    ("candidate_factors", "2", "candidate_factors must be a list, got 2"),
    ("sweep", "1", "sweep must be true or false, got 1"),
    ("treshold", "1.0", "no notebook takes the parameter(s) ['treshold']; parameters are baseline_epochs"),
])
def test_a_parameter_of_the_wrong_name_or_type_is_refused(tmp_path, name, value, message):
    done = run(tmp_path, "-p", name, value)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"reproduce: error: {message}") and done.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_a_search_setting_out_of_range_is_refused_before_any_chapter_runs(tmp_path):
    assert_refused(tmp_path, ["--notebooks", "method,vgg16", "-p", "threshold", "-1"],
                   "chapter vgg16: threshold must be a finite, non-negative number of percentage points, got -1")


def test_an_unknown_notebook_is_refused(tmp_path):
    assert_refused(tmp_path, ["--notebooks", "vgg16,vgg19"],
                   f"unknown notebooks ['vgg19']; notebooks are {', '.join(reproduce.NOTEBOOKS)}")


def test_overrides_of_the_declared_type_pass():
    declared = reproduce.check_inputs("smoke", "npz:my.npz", ["vgg16"], {"threshold": 1, "candidate_factors": [2],
                                                                          "sweep": True, "comparisons": ["a"],
                                                                          "test_size": None}, reproduce.load_profiles())
    assert declared["vgg16"]["threshold"] == 0.5, "defaults are read from the parameters cell"


def test_a_failing_chapter_says_in_one_line_what_failed_and_keeps_its_notebook(tmp_path):
    done = run(tmp_path, "--notebooks", "complexity", "-p", "input_size", "0")
    assert done.returncode == 1
    kept = (tmp_path / "out" / "complexity.ipynb").resolve()
    assert done.stderr.splitlines()[-1].startswith("reproduce: chapter complexity failed in cell [")
    assert "ValueError: Computed output size would be zero or negative" in done.stderr
    assert f"the executed notebook is kept in {kept} (--traceback shows where)" in done.stderr
    assert "Traceback" not in done.stderr and kept.exists()


def test_the_traceback_of_a_failing_chapter_on_request(tmp_path, monkeypatch, capsys):
    import papermill

    def fail(source: str, output: str, **_) -> None:
        Path(output).write_text("{}")
        raise papermill.PapermillExecutionError(2, 3, "1 / 0", "ZeroDivisionError", "division by zero", ["Traceback"])

    monkeypatch.setattr(papermill, "execute_notebook", fail)
    args = ["--notebooks", "method", "--output-dir", str(tmp_path), "--records-dir", str(tmp_path)]
    assert reproduce.main(args) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "reproduce: chapter method failed in cell [3]: ZeroDivisionError: division by zero; the executed notebook "
        f"is kept in {(tmp_path / 'method.ipynb').resolve()} (--traceback shows where)")
    for flag, env in ((["--traceback"], "0"), ([], "1")):
        monkeypatch.setenv("NETSPLIT_TRACEBACK", env)
        assert reproduce.main([*args, *flag]) == 1
        assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_chapters_reach_the_book_only_once_every_chapter_ran(tmp_path, monkeypatch):
    def chapters_failing(failing: str | None):
        def run_chapter(chapter: str, parameters: dict, path: Path, kernel: str) -> None:
            path.write_text(chapter)
            if chapter == failing:
                raise reproduce.ChapterFailed(chapter)
        return run_chapter

    monkeypatch.setattr(reproduce, "SOURCE_ROOT", tmp_path)
    book = tmp_path / "book"
    book.mkdir()
    (book / "method.ipynb").write_text("published")
    chapters = {"method": {}, "complexity": {}}
    monkeypatch.setattr(reproduce, "run_chapter", chapters_failing("complexity"))
    with pytest.raises(reproduce.ChapterFailed):
        reproduce.execute(chapters, book, "python3")
    assert [p.name for p in book.iterdir()] == ["method.ipynb"] and (book / "method.ipynb").read_text() == "published"
    [kept] = (tmp_path / "_build").iterdir()
    assert sorted(p.name for p in kept.iterdir()) == ["complexity.ipynb", "method.ipynb"], "kept to inspect"
    monkeypatch.setattr(reproduce, "run_chapter", chapters_failing(None))
    assert reproduce.execute(chapters, book, "python3") == [book / "method.ipynb", book / "complexity.ipynb"]
    assert (book / "method.ipynb").read_text() == "method"
    assert list((tmp_path / "_build").iterdir()) == [kept], "the successful run's folder is gone"


def test_a_parameter_none_by_default_takes_the_type_its_profile_gives_it(tmp_path):
    done = run(tmp_path, "--profile", "cpu", "--notebooks", "vgg16", "-p", "validation_size", "abc")
    assert done.returncode == 2 and done.stderr.startswith("reproduce: error: validation_size must be an integer")
    assert not list(tmp_path.iterdir())


def test_values_are_read_as_papermill_reads_them():
    assert reproduce.read_overrides([["learning_rate", "1e-3"], ["validation_size", "None"], ["candidate_factors", "[2, 4]"],
                                     ["threshold", "1"], ["dataset", "npz:my.npz"]]) == {
        "learning_rate": 0.001, "validation_size": None, "candidate_factors": [2, 4], "threshold": 1, "dataset": "npz:my.npz"}
    reproduce.check_inputs("cpu", None, ["vgg16"], {"finetune_learning_rate": 1e-3, "validation_size": 5000},
                           reproduce.load_profiles())


@pytest.mark.parametrize("value, shows_records", [("0", True), ("false", True), ("no", True), ("off", True),
                                                  ("1", False), ("true", False)])
def test_train_off_in_any_spelling_only_shows_the_records(value, shows_records):
    """``make -n`` prints the command ``make reproduce`` would run, without running it."""
    run = subprocess.run(["make", "-n", "-o", "install", "reproduce", f"TRAIN={value}"], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0 and ("-p train false" in run.stdout) == shows_records


def test_a_train_setting_make_cannot_read_is_refused_before_anything_runs():
    run = subprocess.run(["make", "-o", "install", "reproduce", "TRAIN=maybe"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "TRAIN must be 1" in run.stderr and "netsplit.study.reproduce" not in run.stdout
