"""The study around the search: the paper's comparison networks, tables, and where results came from.

The notebooks call these functions so that they hold narrative and calls, and the logic is tested once.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from netsplit.data import Dataset, load_dataset
from netsplit.models import build_model
from netsplit.records import RecordStore, RunRecord, adopt_legacy_file, config_hash, read_lines
from netsplit.search import SearchConfig
from netsplit.train import TrainConfig, train_network

MEMORY_NETWORKS = {"original": (1, 1, 1, 1, 1), "proposed_I": (8, 2, 2, 4, 4), "all 8": (8, 8, 8, 8, 8)}
"""The networks whose activation memory is measured (``benchmarks/memory.py``), by name."""

PROFILE_NOTES = {
    "smoke": (
        "These results come from the **smoke** profile: a CPU run at 1/8 of the width, on a small "
        "subset and for a few epochs, made to check the whole pipeline in minutes. They show how the "
        "study works, not what the method achieves; the `paper` profile (on a GPU) does that."
    ),
}


def project_root() -> Path:
    """The repository root (the folder holding pyproject.toml), wherever a notebook runs from."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "netsplit").is_dir():
            return folder
    return here


@dataclass(frozen=True)
class Network:
    """One network of a comparison table: a name, a variant, and its split or branch count."""

    name: str
    variant: str = "proposed"
    split: tuple[int, ...] = (1, 1, 1, 1, 1)
    factor: int = 4


def paper_networks(found: tuple[int, ...]) -> list[Network]:
    """The networks of the paper's Table 2, plus the split our own search found."""
    return [
        Network("baseline"),
        Network("proposed_I", split=(8, 2, 2, 4, 4)),
        Network("proposed_II", split=(8, 2, 2, 2, 4)),
        Network("naive split", "naive", factor=4),
        Network("shared split", "shared", factor=4),
        Network("found by search", split=tuple(found)),
    ]


@dataclass(frozen=True)
class FinalConfig:
    """How the comparison networks are trained: from scratch, ``epochs`` each, ``seeds`` times."""

    search: SearchConfig
    epochs: int = 10
    seeds: int = 1

    @property
    def hash(self) -> str:
        """Key of the records file: the search's training settings and the epochs (not the seed count)."""
        return config_hash({"search": self.search.training, "epochs": self.epochs})

    @property
    def legacy_hash(self) -> str:
        """The key of records files written before networks were shared across thresholds."""
        return config_hash({"search": self.search.legacy_fields(), "epochs": self.epochs, "seeds": self.seeds})

    def records_path(self, folder: str | Path) -> Path:
        """``<folder>/<model>-<dataset>-<hash>-networks.jsonl``, adopting a file of the older key."""
        path = Path(folder) / f"{self.search.model}-{self.search.dataset}-{self.hash}-networks.jsonl"
        adopt_legacy_file(path, self.hash, self.legacy_hash)
        return path


def train_networks(config: FinalConfig, networks: list[Network], records: str | Path,
                   data: Dataset | None = None, data_path: str | None = None) -> list[RunRecord]:
    """Train each network with each seed, skipping those already in ``records`` (so a re-run resumes)."""
    s = config.search
    store = RecordStore(records, config.hash)
    data = data or load_dataset(s.dataset, s.train_size, s.test_size, seed=s.seed, path=data_path)
    train = TrainConfig(epochs=config.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate)
    seeds = range(s.seed, s.seed + config.seeds)
    for network in networks:
        for seed in seeds:
            if store.find(experiment=network.name, seed=seed, split=list(network.split)):
                continue
            build = partial(build_model, s.model, network.variant, network.split, network.factor,
                            input_shape=data.input_shape, num_classes=data.num_classes,
                            width=s.width_multiplier)
            train_network(build, data, train, seed, store, label=f"{network.name} seed {seed}",
                          experiment=network.name, config_hash=config.hash, model=s.model,
                          variant=network.variant, split=list(network.split), factor=network.factor,
                          width=s.width_multiplier, role="final")
    wanted = {(n.name, tuple(n.split)) for n in networks}
    return [r for r in store.records if (r.experiment, tuple(r.split)) in wanted and r.seed in seeds]


def comparison_table(records: list[RunRecord]) -> pd.DataFrame:
    """Mean and spread of accuracy over seeds, with parameters, MACs and memory, one row per network."""
    rows = []
    for name in dict.fromkeys(r.experiment for r in records):
        group = [r for r in records if r.experiment == name]
        accuracies = [100 * r.accuracy for r in group]
        first = group[0]
        rows.append({
            "network": name,
            "split": ",".join(map(str, first.split)) if first.variant == "proposed" else f"{first.variant}, K={first.factor}",
            "accuracy %": round(statistics.fmean(accuracies), 2),
            "± sd": round(statistics.stdev(accuracies), 2) if len(group) > 1 else None,
            "seeds": len(group),
            "parameters": first.params,
            "MMACs": round(first.macs / 1e6, 1),
            "memory layer by layer (KiB)": round(first.memory_layerwise / 1024, 1),
            "memory branch by branch (KiB)": round(first.memory_branchwise / 1024, 1),
        })
    table = pd.DataFrame(rows).set_index("network")
    if "baseline" in table.index:
        table.insert(3, "parameters vs baseline", (table["parameters"] / table.loc["baseline", "parameters"]).round(3))
    return table


def provenance_note(records: list[RunRecord]) -> str:
    """One sentence: where and with what the records were made, and how long training took."""
    if not records:
        return "No records yet."
    devices = sorted({r.device for r in records})
    backends = sorted({r.backend for r in records})
    versions = records[-1].versions
    seconds = sum(r.train_seconds for r in records)
    commits = sorted({r.git_commit.split("+")[0][:12] for r in records})
    dirty = " with uncommitted changes" if any(r.git_commit.endswith("+dirty") for r in records) else ""
    return (
        f"{len(records)} networks trained on {', '.join(devices)} with Keras {versions.get('keras', '?')} "
        f"({', '.join(backends)} backend), {seconds / 60:.1f} minutes of training in all; "
        f"code at commit {', '.join(commits)}{dirty}."
    )


def data_title(config: SearchConfig, data: Dataset) -> str:
    """The data set as every table and plot names it, with the subset and width used."""
    width = "" if config.width_multiplier == 1 else f", width x{config.width_multiplier:g}"
    return f"{data.title} ({len(data.x_train):,} train / {len(data.x_test):,} test images{width})"


def measured_memory(paths: list[str | Path], networks: dict[str, tuple[int, ...]] | None = None) -> pd.DataFrame:
    """Memory measurements (``benchmarks/memory.py`` output) from whichever of ``paths`` exist, each
    named as in ``networks`` (default :data:`MEMORY_NETWORKS`)."""
    names = {",".join(map(str, split)): name for name, split in (networks or MEMORY_NETWORKS).items()}
    rows = [row for path in paths if Path(path).exists() for row in read_lines(path)]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    return frame.assign(
        network=frame["split"].map(names).fillna(frame["split"]),
        **{"input size": frame["input_size"], "measured MiB": frame["measured_bytes"] / 2**20,
           "analysis MiB": frame["analysis_bytes"] / 2**20},
    )


def memory_savings(measured: pd.DataFrame) -> pd.DataFrame:
    """Per network and size: the original's layer-by-layer peak over this network's branch-by-branch
    peak, measured and counted, their agreement, and the time branch by branch vs layer by layer."""
    keys = ["device", "model", "input size"]
    base = measured.query("network == 'original' and execution == 'layer by layer'")[keys + ["measured MiB", "analysis MiB"]]
    layer = measured.query("execution == 'layer by layer'")[keys + ["network", "seconds"]]
    savings = (
        measured.query("execution == 'branch by branch'")
        .merge(base, on=keys, suffixes=("", " original"))
        .merge(layer, on=keys + ["network"], suffixes=("", " layer by layer"))
    )
    savings["measured saving"] = savings["measured MiB original"] / savings["measured MiB"]
    savings["counted saving"] = savings["analysis MiB original"] / savings["analysis MiB"]
    savings["agreement"] = savings["measured saving"] / savings["counted saving"]
    savings["time vs layer by layer"] = savings["seconds"] / savings["seconds layer by layer"]
    columns = ["measured saving", "counted saving", "agreement", "time vs layer by layer"]
    return savings.set_index(keys + ["network"])[columns]
