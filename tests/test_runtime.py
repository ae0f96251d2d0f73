"""Where a run happens, as records state it."""

import pytest

from netsplit.runtime import onednn_enabled


@pytest.mark.parametrize("setting,enabled", [("0", False), ("false", False), ("1", True), ("True", True)])
def test_onednn_follows_tensorflows_documented_switch(monkeypatch, setting, enabled):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
    assert onednn_enabled() is enabled


def test_onednn_is_on_by_default_on_x86_linux_with_the_features_tensorflow_asks_for(monkeypatch):
    import netsplit.runtime as runtime

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "maybe")  # not a switch value: the default decides
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr("platform.system", lambda: "Linux")
    details = runtime.cpu_details()
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx2", "avx512_vnni"]})
    assert onednn_enabled()
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx2", "avx512f"]})
    assert not onednn_enabled(), "AVX-512 alone does not turn it on"
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    monkeypatch.setattr(runtime, "cpu_details", lambda: {**details, "flags": ["avx512_vnni"]})
    assert not onednn_enabled()


def test_the_commit_is_read_from_gits_files_as_git_reads_it(tmp_path):
    import subprocess

    from netsplit.runtime import head_commit

    def git(*args, cwd=tmp_path / "repo"):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()

    assert head_commit(tmp_path) is None, "not a checkout"
    (tmp_path / "repo").mkdir()
    git("init", "-q", "-b", "main")
    (tmp_path / "repo" / "f").write_text("1")
    git("add", "f")
    git("-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "one")
    assert head_commit(tmp_path / "repo") == git("rev-parse", "HEAD"), "a loose branch reference"
    git("pack-refs", "--all")
    assert head_commit(tmp_path / "repo") == git("rev-parse", "HEAD"), "a packed one"
    git("worktree", "add", "-q", "--detach", str(tmp_path / "tree"))
    assert head_commit(tmp_path / "tree") == git("rev-parse", "HEAD"), "a worktree, detached"
    git("checkout", "-q", "-b", "other", cwd=tmp_path / "tree")
    assert head_commit(tmp_path / "tree") == git("rev-parse", "HEAD"), "a worktree's own branch"


def test_importing_the_package_runs_no_git_process():
    import subprocess
    import sys

    probe = ("import subprocess; calls = []; start = subprocess.Popen.__init__\n"
             "def spy(self, args, *rest, **options):\n    calls.append(str(args))\n    start(self, args, *rest, **options)\n"
             "subprocess.Popen.__init__ = spy\n"
             "import netsplit, netsplit.layers, netsplit.runtime\n"
             "print(sum('git' in call for call in calls), netsplit.runtime.IMPORTED_COMMIT)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0"
    assert out[1] == subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def test_the_code_state_a_record_names_is_read_when_training_starts(monkeypatch):
    from netsplit import runtime
    from netsplit.data import load_dataset
    from netsplit.models import split_model
    from netsplit.train import TrainConfig, fit

    runtime.git_commit.cache_clear()
    data = load_dataset("synthetic", train_size=32, test_size=16)
    tree = {"status": ""}  # clean as training starts
    monkeypatch.setattr(runtime.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": tree["status"]})())
    fit(lambda: split_model("vgg16", input_shape=data.input_shape, width_multiplier=0.125), data,
        TrainConfig(epochs=1, batch_size=16, verbose=False))
    tree["status"] = " M netsplit/layers.py"  # edited before the record is written
    assert runtime.IMPORTED_COMMIT is None or not runtime.git_commit().endswith("+dirty"), "an edit made during training does not mark its records"
    runtime.git_commit.cache_clear()
