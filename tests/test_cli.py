"""The command line: tables, JSON, and exit status 2 with one line for bad input."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netsplit.cli import main
from netsplit.errors import InputError
from netsplit.models import split_model


def test_info_json_totals_match_the_model(capsys):
    assert main(["info", "--model", "vgg16", "--split", "8,2,2,4,4", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    blocks = {row["block"]: row for row in info["blocks"]}
    model = split_model("vgg16", (8, 2, 2, 4, 4))  # each layer's own count: a masked block's zeros are not weights
    assert blocks["total"]["params"] == sum(layer.count_params() for layer in model.layers)
    assert list(blocks) == ["block1", "block2", "block3", "block4", "block5", "head", "total"]


def test_info_table_at_a_large_input(capsys):
    assert main(["info", "--model", "resnet18", "--split", "8,8,8,8,8", "--input-size", "2048"]) == 0
    out = capsys.readouterr().out
    assert "2048x2048x3" in out and "memory_branchwise" in out and "MiB" in out


@pytest.mark.parametrize("argv,message", [
    (["info", "--split", "8,2,2"], "one factor per block"),
    (["info", "--split", "0,2,2,4,4"], "positive integer"),
    (["info", "--model", "alexnet"], "invalid choice"),
    (["info", "--input-size", "16"], "too small for five poolings"),
    (["train", "--dataset", "imagenet", "--epochs", "1"], "valid datasets"),
    (["search", "--threshold", "-1"], "argument --threshold: expected a finite number >= 0, got '-1'"),
    (["search", "--threshold", "nan"], "argument --threshold: expected a finite number >= 0, got 'nan'"),
    (["search", "--candidate-factors", "4,2"], "strictly ascending"),
    (["search", "--blocks", "0,6"], "blocks must be numbers 1..5"),
    (["report", "/nonexistent.jsonl"], "no records file"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_console_script_is_installed():
    script = shutil.which("netsplit", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the netsplit script is not installed beside this Python")
    run = subprocess.run([script, "info", "--split", "1,2"], capture_output=True, text=True)
    assert run.returncode == 2 and "one factor per block" in run.stderr


@pytest.mark.slow
def test_train_prints_a_record_and_appends_it(tmp_path, capsys):
    argv = ["train", "--dataset", "synthetic", "--width-multiplier", "0.125", "--epochs", "1", "--split", "2,1,1,1,1",
            "--batch-size", "64", "--records", str(tmp_path / "t.jsonl"), "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["split"] == [2, 1, 1, 1, 1] and record["dataset"] == "synthetic" and record["config_hash"]
    from netsplit.records import read_records

    assert [r.accuracy for r in read_records(tmp_path / "t.jsonl")] == [record["accuracy"]]
    assert main(argv) == 0, "the same configuration's file takes the run"
    assert len(read_records(tmp_path / "t.jsonl")) == 1, "and the same seed is not trained twice"
    assert json.loads(capsys.readouterr().out) == record, "the recorded network is reported instead"


def test_a_failure_inside_a_run_exits_1_and_shows_the_traceback_on_request(capsys, monkeypatch):
    import netsplit.complexity

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(netsplit.complexity, "analyse", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert "run failed: RuntimeError: disk on fire" in err and "Traceback" not in err
    assert main(["info", "--traceback"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("NETSPLIT_TRACEBACK", "1")
    assert main(["info"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_a_value_error_from_deep_inside_is_not_taken_for_bad_input(capsys, monkeypatch):
    import netsplit.complexity

    def broken(*args, **kwargs):
        raise ValueError("shape mismatch somewhere in Keras")

    monkeypatch.setattr(netsplit.complexity, "analyse", broken)
    assert main(["info"]) == 1
    assert "run failed: ValueError" in capsys.readouterr().err


def test_search_options_are_the_configuration_s_own(capsys):
    """Every SearchConfig option is on the command line with the configuration's default, so the two never drift."""
    from netsplit.cli import parser
    from netsplit.search.config import SearchConfig

    args = parser().parse_args(["search"])
    assert SearchConfig.from_options({o.name: getattr(args, o.name) for o in SearchConfig.options()}) == SearchConfig()
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = capsys.readouterr().out
    for option in SearchConfig.options():
        flag = option.metadata.get("flag", "--" + option.name.replace("_", "-"))
        assert (f"--no-{flag[2:]}" if option.default is True else flag) in text, option.name


def test_from_options_takes_lists_and_refuses_unknown_names():
    from netsplit.search.config import SearchConfig

    assert SearchConfig.from_options({"candidate_factors": [2, 4], "blocks": [1]}) == \
        SearchConfig(candidate_factors=(2, 4), blocks=(1,))
    with pytest.raises(InputError, match="unknown search option 'factors'; the options are model, dataset"):
        SearchConfig.from_options({"factors": [2, 4]})
    assert SearchConfig.from_options({"factors": [2, 4], "final_seeds": 3}, others=True) == SearchConfig()


def test_a_report_reads_records_without_starting_keras():
    code = ("import sys; from netsplit.cli import main; "
            "status = main(['report', 'results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl']); "
            "print(status, 'keras' in sys.modules, 'tensorflow' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                         text=True)
    assert run.stdout.splitlines()[-1] == "0 False False", run.stderr[-2000:]
    assert "final split: 1,2,1,1,1" in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("backend, message", [("torch", "KERAS_BACKEND=torch needs torch, which is not installed"),
                                              ("pytorch", "KERAS_BACKEND=pytorch is no backend of Keras")])
def test_a_backend_that_cannot_start_is_refused_in_one_line(backend, message):
    import importlib.util

    if importlib.util.find_spec("torch") is not None and backend == "torch":
        pytest.skip("torch is installed here")
    run = subprocess.run([sys.executable, "-m", "netsplit", "info", "--model", "vgg16"], capture_output=True, text=True,
                         env={**os.environ, "KERAS_BACKEND": backend})
    [line] = run.stderr.strip().splitlines()
    assert run.returncode == 2 and line.startswith(f"netsplit: error: {message}")


def test_replay_of_a_path_and_migrate_of_a_binary_file_are_refused_in_one_line(tmp_path):
    from netsplit.migrate import main as migrate
    from netsplit.search.rule import replay

    with pytest.raises(InputError, match="replay takes run records, such as read_records"):
        replay("results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl", 1.0)
    binary = tmp_path / "r.jsonl"
    binary.write_bytes(bytes(range(256)))
    assert migrate([str(binary)]) == 2


def test_a_model_named_without_its_option_gets_a_hint_and_export_shows_its_usage(capsys):
    assert main(["info", "vgg16"]) == 2
    assert "unrecognized arguments: vgg16 (name the model with --model vgg16)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert capsys.readouterr().out.startswith("usage: netsplit export [options] [MODEL.keras] OUT.tflite\n")
