"""The command line as a new user meets it: bad inputs refused before work starts, a quiet and quick start."""

import json
import os
import shutil
import signal
import subprocess
import sys

import keras
import pytest
from keras import layers

import netsplit.train
from helpers import ROOT
from netsplit.cli import main, parser
from netsplit.search.config import SearchConfig
from netsplit.records import read_records

FRESH = {**os.environ, "PYTHONWARNINGS": "ignore"}


def own_cnn(path, classes: int = 10):
    """The README's small Sequential CNN (two blocks), saved to ``path``."""
    cnn = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(8, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(8, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(), layers.GlobalAveragePooling2D(), layers.Dense(classes),
    ])
    cnn.save(path)
    return path


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=FRESH)


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any network starts training."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network was trained although the input was bad")

    monkeypatch.setattr(keras.Model, "fit", refuse)


def refused(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_export_takes_a_sequential_keras_file(tmp_path, capsys):
    source = own_cnn(tmp_path / "my_cnn.keras")
    assert main(["export", str(source), str(tmp_path / "my_cnn.tflite"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["convolutions"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("loads", ["import netsplit; model = netsplit.load_model(path)",
                                   "import keras, netsplit.layers; model = keras.saving.load_model(path)"])
def test_a_fresh_process_loads_a_saved_split_model(tmp_path, loads):
    saved = tmp_path / "split.keras"
    netsplit.split_model("vgg16", (2, 1, 1, 1, 1), width_multiplier=0.125).save(saved)
    run = python(f"path = {str(saved)!r}; {loads}; print(type(model.get_layer('block1')).__name__)")
    assert run.returncode == 0 and run.stdout.strip() == "SplitBlock", run.stderr[-2000:]


@pytest.mark.slow
def test_keras_alone_names_the_module_that_registers_the_layers(tmp_path):
    """What the README says of a plain Keras load in a process that never imported netsplit's layers."""
    saved = tmp_path / "split.keras"
    netsplit.split_model("vgg16", (2, 1, 1, 1, 1), width_multiplier=0.125).save(saved)
    run = python(f"import keras, netsplit; keras.saving.load_model({str(saved)!r})")
    assert run.returncode != 0
    assert "Could not locate class 'SplitBlock'" in run.stderr and "'netsplit.layers'" in run.stderr, run.stderr[-2000:]


def test_import_netsplit_does_not_start_keras():
    run = python("import sys, netsplit, netsplit.cli; print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    assert run.stdout.strip() == "False False", run.stderr[-2000:]


def test_help_and_version_answer_without_starting_tensorflow():
    code = ("import sys\nfrom netsplit.cli import main\nfor argv in (['--help'], ['info', '--help'], ['--version']):\n"
            "    try: main(argv)\n    except SystemExit as done: assert done.code == 0\n"
            "print('tensorflow' in sys.modules)")
    run = python(code)
    assert run.returncode == 0 and run.stdout.strip().endswith("False"), run.stderr[-2000:]
    assert "netsplit 0.1.0" in run.stdout


def test_python_dash_m_netsplit_runs_the_command_line():
    run = subprocess.run([sys.executable, "-m", "netsplit", "--version"], capture_output=True, text=True, env=FRESH)
    assert run.returncode == 0 and run.stdout.strip() == f"netsplit {netsplit.__version__}"


@pytest.mark.slow
def test_a_command_prints_no_tensorflow_log_line_unless_verbose():
    quiet = subprocess.run([sys.executable, "-m", "netsplit", "info", "--split", "8,2,2,4,4"], capture_output=True,
                           text=True, env=FRESH)
    assert quiet.returncode == 0 and "block5" in quiet.stdout
    assert quiet.stderr == "", quiet.stderr
    loud = subprocess.run([sys.executable, "-m", "netsplit", "info", "--verbose"], capture_output=True, text=True,
                          env={**FRESH, "TF_ENABLE_ONEDNN_OPTS": "1"})
    assert loud.returncode == 0 and "oneDNN" in loud.stderr, "--verbose shows TensorFlow's own lines"


def test_every_option_has_help_and_shows_its_default():
    root = parser()
    commands = root._subparsers._group_actions[0].choices
    for name, command in commands.items():
        text = command.format_help()
        for action in command._actions:
            if action.dest in ("help",):
                continue
            assert action.help, f"netsplit {name} {action.option_strings or action.dest} has no help text"
        assert "(default: 0.05)" in text or name in ("info", "report", "export")


@pytest.mark.parametrize("argv,message", [
    (["info", "--split", "-1,2,2,4,4"], "split factor must be a positive integer, got -1"),
    (["train", "--epochs", "0"], "--epochs: expected an integer >= 1, got '0'"),
    (["train", "--lr", "nan"], "--lr: expected a finite number > 0"),
    (["report", "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl", "--threshold", "nan"], "--threshold: expected a finite number >= 0, got 'nan'"),
    (["report", "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl", "--threshold", "-1"], "--threshold: expected a finite number >= 0, got '-1'"),
    (["report", "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl", "--threshold", "inf"], "--threshold: expected a finite number >= 0, got 'inf'"),
    (["search", "--candidate-factors", "1000", "--width-multiplier", "0.125"], "split factor 1000 is larger than the narrowest"),
])
def test_bad_values_are_refused_in_one_line(capsys, no_training, argv, message):
    refused(capsys, argv, message)


def test_replay_validates_the_threshold_as_a_search_does():
    records = read_records(ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl")
    for threshold in (float("nan"), float("inf"), -0.5):
        with pytest.raises(netsplit.InputError, match="threshold must be a finite, non-negative number"):
            netsplit.replay(records, threshold)


def test_a_candidate_wider_than_a_block_is_refused_when_the_search_is_configured():
    with pytest.raises(netsplit.InputError, match="block 1 of vgg16 .* split factor 16 is larger"):
        SearchConfig(candidate_factors=(2, 4, 8, 16), width_multiplier=0.125)


def test_a_candidate_wider_than_your_own_block_is_refused(tmp_path, capsys, no_training):
    cnn = own_cnn(tmp_path / "own.keras")
    refused(capsys, ["search", "--model", str(cnn), "--dataset", "synthetic", "--candidate-factors", "2,16"],
            "block 1 of own.keras (candidate factors [2, 16]): split factor 16 is larger than the narrowest layer (8")


def test_train_takes_your_own_networks_blocks(tmp_path, capsys, no_training):
    cnn = own_cnn(tmp_path / "own.keras")
    refused(capsys, ["train", "--model", str(cnn), "--split", "2,2,2,2,2"], "one factor per block (2), got 5")


def test_train_refuses_a_head_that_does_not_match_the_classes_before_training(tmp_path, capsys, no_training):
    cnn = own_cnn(tmp_path / "three.keras", classes=3)
    assert main(["train", "--model", str(cnn), "--dataset", "synthetic", "--split", "2,1"]) == 2
    assert "ends in 3 outputs but synthetic test data has 10 classes" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["/proc/r.jsonl", "{tmp}/afile/r.jsonl"])
def test_train_refuses_an_unwritable_records_path_before_training(tmp_path, capsys, no_training, where):
    (tmp_path / "afile").write_text("a regular file")
    refused(capsys, ["train", "--dataset", "synthetic", "--records", where.format(tmp=tmp_path)], "cannot be written")


def test_export_of_a_file_that_is_not_a_keras_model_is_bad_input(tmp_path, capsys):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    refused(capsys, ["export", str(junk), str(tmp_path / "out.tflite")], "is not a readable Keras model file")
    refused(capsys, ["info", "--model", str(junk)], "is not a readable Keras model file")


def test_progress_shows_each_epochs_own_time_and_moves_within_an_epoch(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress = netsplit.train._Progress(epochs=2, label="net", verbose=True)
    progress.set_params({"steps": 3})
    clock = iter([11.0, 12.0, 13.0, 15.0])
    monkeypatch.setattr(netsplit.train.time, "perf_counter", lambda: next(clock))
    progress.start = progress.shown = 10.0
    progress.on_train_batch_end(0, {"loss": 2.0})   # 11 s
    progress.on_epoch_end(0, {"loss": 1.5})         # 12 s: epoch 1 took 2 s
    progress.on_train_batch_end(0, {"loss": 1.2})   # 13 s
    progress.on_epoch_end(1, {"loss": 1.0})         # 15 s: epoch 2 took 3 s
    err = capsys.readouterr().err
    assert "net epoch 1/2: batch 1/3, loss 2.0000" in err, "the line within an epoch"
    assert "net epoch 1/2: loss 1.5000, 2.0 s (total 2.0 s)" in err
    assert "net epoch 2/2: loss 1.0000, 3.0 s (total 5.0 s)" in err, "per-epoch seconds, not cumulative"


def test_readmes_search_resumes_from_committed_records_and_trains_nothing(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    snippet = readme[readme.index("config = netsplit.SearchConfig("):]
    snippet = snippet[: snippet.index("\n", snippet.index("print(result.split"))]
    shutil.copytree(ROOT / "results", tmp_path / "results")  # the search takes a lock beside its records
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("the README's search trains a network"))
    scope = {"netsplit": netsplit}
    exec(snippet, scope)
    assert scope["result"].missing is None and len(scope["result"].split) == 5
    assert capsys.readouterr().out.strip().endswith("(8, 8, 8, 8, 8)"), "the file's networks replay at 2.0 as published"


@pytest.mark.slow
def test_train_records_your_own_networks_split_and_architecture(tmp_path, capsys):
    cnn = own_cnn(tmp_path / "own.keras")
    common = ["train", "--model", str(cnn), "--dataset", "synthetic", "--epochs", "1", "--batch-size", "64", "--json"]
    assert main([*common, "--split", "2,4"]) == 0
    split = json.loads(capsys.readouterr().out)
    assert main(common) == 0
    unsplit = json.loads(capsys.readouterr().out)
    assert split["split"] == [2, 4] and unsplit["split"] == [1, 1]
    assert split["model"] == "own.keras" and split["architecture"] == unsplit["architecture"] is not None
    assert split["architecture"] == SearchConfig(model=str(cnn), dataset="synthetic").architecture


@pytest.mark.slow
def test_ctrl_c_exits_130_and_says_the_records_are_kept(tmp_path):
    run = subprocess.Popen(
        [sys.executable, "-m", "netsplit", "train", "--dataset", "synthetic", "--epochs", "200", "--batch-size", "16",
         "--width-multiplier", "0.125", "--records", str(tmp_path / "r.jsonl")],
        stderr=subprocess.PIPE, text=True, env=FRESH,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a background job's shell ignores SIGINT
    for line in run.stderr:
        if "epoch 1/200" in line:
            break
    run.send_signal(signal.SIGINT)
    rest = run.stderr.read()
    assert run.wait() == 130, rest
    assert "interrupted" in rest and "epoch 2/200" not in rest, "stopped within the epoch it was in"


@pytest.mark.slow
def test_a_search_prints_only_its_own_progress(tmp_path):
    """No TensorFlow, absl or "retracing" line among a search's progress lines (several networks, one process)."""
    run = subprocess.run(
        [sys.executable, "-m", "netsplit", "search", "--dataset", "synthetic", "--width-multiplier", "0.125",
         "--candidate-factors", "2,4", "--blocks", "1", "--baseline-epochs", "1", "--finetune-epochs", "1",
         "--batch-size", "64", "--records", str(tmp_path / "r.jsonl")],
        capture_output=True, text=True, env=FRESH)
    assert run.returncode == 0, run.stderr[-3000:]
    ours = ("  ", "[", "block ")
    foreign = [line for line in run.stderr.splitlines() if not line.startswith(ours)]
    assert foreign == [], foreign
    assert run.stderr.count(" epoch 1/1: ") == len(read_records(tmp_path / "r.jsonl")) >= 3


@pytest.mark.slow
def test_an_unwritable_records_path_is_refused_by_a_real_process_before_training(tmp_path):
    run = subprocess.run([sys.executable, "-m", "netsplit", "train", "--dataset", "synthetic", "--records",
                          "/proc/r.jsonl"], capture_output=True, text=True, env=FRESH)
    assert run.returncode == 2 and run.stderr.startswith("netsplit: error: /proc/r.jsonl cannot be written")
    assert " epoch " not in run.stderr


@pytest.mark.slow
def test_int8_export_of_a_keras_file_calibrates_on_images_resized_to_its_input(tmp_path, capsys, fashion_dir):
    source = own_cnn(tmp_path / "colour.keras")  # 32x32x3; Fashion-MNIST is 32x32x1 once padded
    argv = ["export", str(source), str(tmp_path / "colour-int8.tflite"), "--precision", "int8",
            "--calibration-images", "16", "--data-path", str(fashion_dir)]
    assert main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "int8: calibrated on 16 Fashion-MNIST training images fitted to 32x32x3" in err, "said, not silent"
    assert "colour-int8.tflite expects standardised input, not raw pixels" in err
    spec = json.loads((tmp_path / "colour-int8.input.json").read_text())
    assert spec["dataset"] == "fashion_mnist" and len(spec["mean"]) == len(spec["std"]) == 3 and spec["data_hash"]


def test_train_files_records_under_the_options_it_always_had():
    """--traceback and --verbose say how a run shows itself: they are not part of a records file's key."""
    from netsplit.cli import training_options

    args = parser().parse_args(["train", "--dataset", "synthetic"])
    assert set(training_options(args)) == {
        "model", "variant", "split", "factor", "width_multiplier", "dataset", "data_path", "epochs", "batch_size",
        "lr", "train_size", "test_size", "seed", "validation_size"}


@pytest.mark.slow
def test_seeds_of_one_network_share_a_records_file_and_a_seed_is_not_trained_twice(tmp_path, capsys):
    records = str(tmp_path / "r.jsonl")
    common = ["train", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "64", "--width-multiplier", "0.125",
              "--train-size", "64", "--test-size", "32", "--records", records]
    assert main([*common, "--seed", "0"]) == 0 and main([*common, "--seed", "1"]) == 0
    assert [r.seed for r in read_records(records)] == [0, 1], "a second seed joins the first"
    capsys.readouterr()
    assert main([*common, "--seed", "0"]) == 0
    assert "already holds this network with seed 0" in capsys.readouterr().err
    assert len(read_records(records)) == 2, "nothing trained again, nothing appended"
    refused(capsys, [*common[:4], "2", *common[5:], "--seed", "0"], "holds records of another configuration (epochs 1 there, 2 here)")


@pytest.mark.slow
def test_a_search_whose_baseline_trains_to_chance_fails_and_records_nothing(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "netsplit", "search", "--dataset", "synthetic", "--width-multiplier", "0.125",
         "--candidate-factors", "2", "--blocks", "1", "--baseline-epochs", "1", "--finetune-epochs", "1",
         "--batch-size", "64", "--lr", "1e6", "--records", str(tmp_path / "r.jsonl")],
        capture_output=True, text=True, env=FRESH)
    assert run.returncode == 1 and "a failed run is no reference" in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "r.jsonl").exists() or read_records(tmp_path / "r.jsonl") == []


def test_an_export_onto_a_folder_is_refused_before_converting(tmp_path, capsys, monkeypatch):
    import netsplit.export

    monkeypatch.setattr(netsplit.export, "convert", lambda *a, **k: pytest.fail("converted before the check"))
    (tmp_path / "out.tflite").mkdir()
    refused(capsys, ["export", str(tmp_path / "out.tflite")], "out.tflite is a folder")


@pytest.fixture
def small_disk(tmp_path):
    """A 300 KiB file system of its own (tmpfs), where a search's weights do not fit."""
    where = tmp_path / "small"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    yield where
    subprocess.run(["umount", str(where)], check=True)


@pytest.mark.slow
def test_a_full_disk_ends_a_search_in_one_line_keeping_its_finished_records(small_disk):
    run = subprocess.run(
        [sys.executable, "-m", "netsplit", "search", "--dataset", "synthetic", "--width-multiplier", "0.125",
         "--candidate-factors", "2", "--blocks", "1", "--baseline-epochs", "1", "--finetune-epochs", "1",
         "--batch-size", "64", "--train-size", "64", "--test-size", "32", "--records", str(small_disk / "r.jsonl")],
        capture_output=True, text=True, env=FRESH)
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode == 1 and last.startswith("netsplit: run failed: ") and "No space left" in last, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert [r.role for r in read_records(small_disk / "r.jsonl")] == ["baseline"], "the finished network's record kept"
    assert not list(small_disk.rglob("*.partial.*")), "no half-written file left"
