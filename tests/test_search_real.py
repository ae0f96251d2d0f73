"""The search with real training: end to end, resumed after kill -9, and on Ray."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import pytest

from netsplit.records import RecordStore, read_records
from netsplit.search import SearchConfig, SplitSearch, run_search

TINY = dict(model="vgg16", blocks=(1, 2), factors=(2, 4), baseline_epochs=2, finetune_epochs=1,
            width_multiplier=0.125, train_size=600, test_size=300, threshold=5.0, batch_size=100)


def cli_args(records) -> list[str]:
    return [sys.executable, "-m", "netsplit.cli", "search", "--model", "vgg16", "--blocks", "1,2",
            "--factors", "2,4", "--baseline-epochs", "2", "--finetune-epochs", "1", "--width-multiplier", "0.125",
            "--train-size", "600", "--test-size", "300", "--threshold", "5", "--batch-size", "100",
            "--records", str(records)]


@pytest.mark.slow
def test_end_to_end_search_on_fashion_mnist(tmp_path, fashion_dir):
    result = run_search(SearchConfig(**TINY), tmp_path / "r.jsonl", data_path=str(fashion_dir), verbose=False)
    records = read_records(tmp_path / "r.jsonl")
    assert len(records) == len({tuple(r.split) for r in records}) >= 3
    assert all(r.dataset == "fashion_mnist" and r.train_size == 600 and r.params > 0 for r in records)
    assert result.split[2:] == (1, 1, 1)
    saved = {path.name for path in (tmp_path / "r.weights").iterdir()}
    assert saved == {f"{'-'.join(map(str, r.split))}_s0.weights.h5" for r in records}, "any can be fine-tuned from"
    parents = {"-".join(map(str, r.split[: r.block - 1] + [1] + r.split[r.block:])) + "_s0.weights.h5"
               for r in records if r.role == "candidate"}
    kept = tmp_path / "r.parents"
    assert {path.name for path in kept.iterdir()} == parents, "the weights candidates inherited from are kept"
    for name in parents:
        with h5py.File(kept / name) as weights:
            assert "optimizer" not in weights and "layers" in weights, "kept without optimizer state"

    shutil.rmtree(tmp_path / "r.weights")  # a fresh clone: the records and the kept parents
    wider = SearchConfig(**{**TINY, "threshold": 90.0, "factors": (2, 4, 8)})  # new candidates, kept parents
    assert run_search(wider, tmp_path / "r.jsonl", data_path=str(fashion_dir), verbose=False).split == (8, 8, 1, 1, 1)
    assert len(read_records(tmp_path / "r.jsonl")) > len(records)
    retrained = {path.name for path in (tmp_path / "r.weights").iterdir()} & parents
    assert not retrained, f"{retrained} trained again although kept"


@pytest.mark.slow
def test_resume_after_kill_9_ends_with_the_same_split(tmp_path, fashion_dir):
    env = {**os.environ, "NETSPLIT_FASHION_MNIST": str(fashion_dir)}
    interrupted = tmp_path / "interrupted.jsonl"
    process = subprocess.Popen(cli_args(interrupted), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if interrupted.exists() and len(interrupted.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the search finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = interrupted.read_text()
    assert len(kept.splitlines()) >= 2

    resumed = subprocess.run(cli_args(interrupted) + ["--json"], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert interrupted.read_text().startswith(kept), "finished records are kept as they were"

    clean = tmp_path / "clean.jsonl"
    uninterrupted = subprocess.run(cli_args(clean) + ["--json"], env=env, capture_output=True, text=True, timeout=600)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    import json

    assert json.loads(resumed.stdout)["split"] == json.loads(uninterrupted.stdout)["split"]
    a, b = read_records(interrupted), read_records(clean)
    assert [(r.split, r.accuracy) for r in a] == [(r.split, r.accuracy) for r in b]


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_ray_executor_gives_the_same_split_as_sequential(tmp_path):
    import ray
    import ray.cloudpickle

    import oracle as oracle_module
    from netsplit.executors import RayExecutor

    ray.cloudpickle.register_pickle_by_value(oracle_module)
    penalties = {1: {2: 0.1, 4: 0.9, 6: 0.1, 8: 0.1}, 2: {2: 0.1, 4: 0.2, 6: 0.6}}
    config = SearchConfig(blocks=(1, 2))
    results = {}
    try:
        for name, executor in [("sequential", None), ("ray", RayExecutor(num_cpus=2))]:
            store = RecordStore(tmp_path / f"{name}.jsonl", config.hash)
            search = SplitSearch(config, oracle_module.Oracle(config, penalties), store, executor, log=lambda line: None)
            results[name] = search.run().split
    finally:
        ray.shutdown()
    assert results["ray"] == results["sequential"] == (2, 4, 1, 1, 1)
    ray_records = read_records(tmp_path / "ray.jsonl")
    assert {r.factor for r in ray_records if r.block == 1 and r.role == "candidate"} == {2, 4, 6, 8}


@pytest.mark.slow
def test_a_fresh_clone_without_weights_trains_missing_parents_again(tmp_path, fashion_dir):
    import warnings

    records = tmp_path / "r.jsonl"
    strict = run_search(SearchConfig(**{**TINY, "threshold": 0.0}), records, data_path=str(fashion_dir), verbose=False)
    for folder in ("r.weights", "r.parents"):  # the records alone, nothing kept
        shutil.rmtree(tmp_path / folder)
    loose = SearchConfig(**{**TINY, "threshold": 90.0})  # accepts every factor: new networks, other parents
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = run_search(loose, records, data_path=str(fashion_dir), verbose=False)
    fresh = run_search(loose, tmp_path / "fresh.jsonl", data_path=str(fashion_dir), verbose=False)
    assert resumed.split == fresh.split == (4, 4, 1, 1, 1) != strict.split
    assert sorted((tuple(r.split), r.accuracy) for r in resumed.records) == \
        sorted((tuple(r.split), r.accuracy) for r in fresh.records)
    assert (tmp_path / "r.weights" / "1-1-1-1-1_s0.weights.h5").exists(), "the baseline was trained again"
    assert not [w for w in caught if "not bit-exact" in str(w.message)]
