"""The search with real training: end to end, resumed from a fresh clone, after kill -9, and on Ray.

One tiny search runs once per module; the other tests resume from copies of what it left behind."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import h5py
import pytest

from netsplit.errors import TrainingFailed
from netsplit.search.config import SearchConfig
from netsplit.records import RecordStore, read_records
from netsplit.search.runner import run_search
from netsplit.search.rule import SplitSearch

# Threshold 90 accepts every factor, so the path is known in advance: (4, 4, 1, 1, 1).
TINY = dict(model="vgg16", blocks=(1, 2), candidate_factors=(2, 4), baseline_epochs=2, finetune_epochs=1,
            width_multiplier=0.125, train_size=600, test_size=300, threshold=90.0, batch_size=100)
WIDER = SearchConfig(**{**TINY, "candidate_factors": (2, 4, 8), "blocks": (1,)})  # a new candidate on the same records


def cli_args(records) -> list[str]:
    """The command line of the tiny search, spelled from TINY so the two cannot drift apart."""
    flags = []
    for key, value in TINY.items():
        flags += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return [sys.executable, "-m", "netsplit.cli", "search", *flags, "--records", str(records)]


def trained(records) -> list[tuple[tuple[int, ...], float]]:
    return [(tuple(r.split), r.accuracy) for r in read_records(records)]


def clone(source, target, *folders: str):
    """What a fresh clone holds of a search: its records and the named folders beside them."""
    target.mkdir(exist_ok=True)
    for name in ("r.jsonl", *folders):
        (shutil.copytree if (source / name).is_dir() else shutil.copy)(source / name, target / name)
    return target / "r.jsonl"


@pytest.fixture(scope="module")
def searched(tmp_path_factory, fashion_dir):
    folder = tmp_path_factory.mktemp("searched")
    return folder, run_search(SearchConfig(**TINY), folder / "r.jsonl", data_path=str(fashion_dir), verbose=False)


@pytest.fixture(scope="module")
def widened(searched, tmp_path_factory, fashion_dir):
    """The wider search resumed from the records and the kept parents alone, as committed."""
    records = clone(searched[0], tmp_path_factory.mktemp("widened"), "r.parents")
    return records, run_search(WIDER, records, data_path=str(fashion_dir), verbose=False)


@pytest.mark.slow
def test_end_to_end_search_on_fashion_mnist(searched, widened):
    folder, result = searched
    records = read_records(folder / "r.jsonl")
    assert len(records) == len({tuple(r.split) for r in records}) == 5
    assert all(r.dataset == "fashion_mnist" and r.train_size == 600 and r.params > 0 for r in records)
    assert result.split == (4, 4, 1, 1, 1)
    saved = {path.name for path in (folder / "r.weights").iterdir()}
    assert saved == {f"{'-'.join(map(str, r.split))}_s0.weights.h5" for r in records}, "any can be fine-tuned from"
    parents = {"-".join(map(str, r.split[: r.block - 1] + [1] + r.split[r.block:])) + "_s0.weights.h5"
               for r in records if r.role == "candidate"}
    assert {path.name for path in (folder / "r.parents").iterdir()} == parents, "the weights candidates inherited from are kept"
    for name in parents:
        with h5py.File(folder / "r.parents" / name) as weights:
            assert "optimizer" not in weights and "layers" in weights, "kept without optimizer state"

    resumed, wider = widened
    assert wider.split == (8, 1, 1, 1, 1)
    assert trained(resumed)[: len(records)] == trained(folder / "r.jsonl")
    assert len(read_records(resumed)) == len(records) + 1, "8 in block 1, inherited from the kept baseline"
    retrained = {path.name for path in resumed.with_suffix(".weights").iterdir()} & parents
    assert not retrained, f"{retrained} trained again although kept"


@pytest.mark.slow
def test_a_fresh_clone_without_weights_trains_missing_parents_again(searched, widened, tmp_path, fashion_dir):
    records = clone(searched[0], tmp_path)  # the records alone, no weights kept
    resumed = run_search(WIDER, records, data_path=str(fashion_dir), verbose=False)
    assert resumed.split == widened[1].split
    assert trained(records) == trained(widened[0]), "the same networks, bit for bit, as with the parents kept"
    assert (tmp_path / "r.weights" / "1-1-1-1-1_s0.weights.h5").exists(), "the baseline was trained again"
    assert not list((tmp_path / "r.weights").glob("*.differs")), "bit-exact here: the record's own network"


@pytest.mark.slow
def test_a_parent_trained_again_to_another_accuracy_stops_the_search(searched, tmp_path, fashion_dir):
    """Where training is not bit-exact, a parent trained again is another network than its record: its candidates
    would be measured against the record and share its records file, so the search stops, then and later."""
    records = clone(searched[0], tmp_path)
    lines = records.read_text().splitlines()
    baseline = json.loads(lines[0])
    assert baseline["role"] == "baseline"
    baseline["accuracy"] -= 0.01  # as another machine's run recorded it
    records.write_text("\n".join([json.dumps(baseline), *lines[1:]]) + "\n")
    for config in (WIDER, replace(WIDER, fair_reference=True)):
        with pytest.raises(TrainingFailed, match="not bit-exact.*restore .*r.parents"):
            run_search(config, records, data_path=str(fashion_dir), verbose=False)
    assert len(read_records(records)) == len(lines), "nothing recorded"
    assert not (tmp_path / "r.parents").exists(), "not kept as the parent later searches inherit from"
    assert [p.name for p in (tmp_path / "r.weights").glob("*.differs")] == ["1-1-1-1-1_s0.weights.h5.differs"]


@pytest.mark.slow
def test_resume_after_kill_9_ends_with_the_records_of_an_uninterrupted_search(searched, tmp_path, fashion_dir):
    """Block 1's records and weights as the tiny search left them; the command goes on, is killed in block 2."""
    env = {**os.environ, "NETSPLIT_FASHION_MNIST": str(fashion_dir)}
    folder, uninterrupted = searched
    interrupted = clone(folder, tmp_path, "r.weights", "r.parents")
    interrupted.write_text("".join(interrupted.read_text().splitlines(keepends=True)[:3]))
    for later in ("r.weights/4-2-1-1-1_s0.weights.h5", "r.weights/4-4-1-1-1_s0.weights.h5",
                  "r.parents/4-1-1-1-1_s0.weights.h5"):
        (tmp_path / later).unlink()
    log = tmp_path / "search.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(cli_args(interrupted), env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if len(interrupted.read_text().splitlines()) >= 4:
            break
        time.sleep(0.2)
    assert process.poll() is None, f"the search ended before it could be killed: {log.read_text()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = interrupted.read_text()
    assert len(kept.splitlines()) == 4, "killed while the last network of the search trained"

    resumed = subprocess.run(cli_args(interrupted) + ["--json"], env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert interrupted.read_text().startswith(kept), "finished records are kept as they were"
    assert tuple(json.loads(resumed.stdout)["split"]) == uninterrupted.split
    assert trained(interrupted) == trained(folder / "r.jsonl"), "the same networks, in order, bit for bit"


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_ray_executor_gives_the_same_split_as_sequential(tmp_path):
    import ray
    import ray.cloudpickle

    import oracle as oracle_module
    from netsplit.search.executors import RayExecutor

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
