"""The evaluator of a real search: trains a job's network, starting from its parent's saved weights.

Every trained network's weights are saved before its record is written, so any later search that
shares the records (at another threshold, say) can fine-tune from any network already trained. Those
a search did inherit from are also kept, without optimizer state, in ``<records>.parents/``, a folder
meant to be committed with the records: a search resumed on a fresh clone inherits from them. Where a
parent's weights are gone, the parent is trained again: training is seeded, so it is the network its
record describes where training is bit-exact; its accuracy is checked, and where it differs the search stops:
candidates inheriting from another network would share a records file with those of the recorded one.
"""

from __future__ import annotations

import errno
import math
import shutil
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from netsplit.data import Dataset
from netsplit.errors import TrainingFailed
from netsplit.inheritance import inherit
from netsplit.models import split_model
from netsplit.networks import split_network
from netsplit.records import RunRecord, read_records, write_atomically
from netsplit.train import TrainConfig, train_network

if TYPE_CHECKING:
    from netsplit.search.config import SearchConfig
    from netsplit.search.rule import Job


def diverged(loss: float, classes: int) -> bool:
    """Whether a test loss says the training diverged: not finite, or ten times a uniform guess's cross-entropy.

    >>> diverged(2.5, 10), diverged(1.2e6, 10), diverged(float("nan"), 10)
    (False, True, True)
    """
    return not math.isfinite(loss) or loss > 10 * math.log(classes)


class TrainingEvaluator:
    """Builds the job's network, inherits from its parent's weights, trains it and saves its weights."""

    def __init__(self, config: SearchConfig, weights_dir: Path | None, data_path: str | None = None,
                 verbose: bool = True, records: Path | None = None):
        self.config, self.weights_dir, self.data_path, self.verbose = config, weights_dir, data_path, verbose
        self.records = records
        self._data: Dataset | None = None

    def __getstate__(self) -> dict:  # sent to Ray workers without the loaded data
        return {**self.__dict__, "_data": None}

    def data(self) -> Dataset:
        if self._data is None:
            self._data = self.config.load_data(self.data_path)
        return self._data

    def weights_path(self, split: tuple[int, ...], seed: int, folder: str = ".weights") -> Path:
        """Where a network's weights are: every trained one in ``.weights``, parents also in ``.parents``."""
        return self.weights_dir.with_suffix(folder) / f"{'-'.join(map(str, split))}_s{seed}.weights.h5"

    def _build(self, split: tuple[int, ...]) -> keras.Model:
        network = self.config.network()
        if network is not None:  # your own network, freshly initialised as a built-in one is
            return split_network(network.model, split, weights=False)
        data = self.data()
        return split_model(self.config.model, split, data.input_shape, data.num_classes,
                           self.config.width_multiplier)

    def _parent(self, job: Job) -> keras.Model:
        parent, kept = self._build(job.parent), self.weights_path(job.parent, job.seed, ".parents")
        if kept.exists():
            parent.load_weights(kept)
            return parent
        path = self.weights_path(job.parent, job.seed)
        if not path.exists():
            self._train_again(job.parent, job.seed)
        if _differs(path).exists():  # its candidates would share a records file with those of the recorded network
            raise TrainingFailed(
                f"{_differs(path).read_text()}, so its candidates would inherit from another network than the one "
                f"their drops are measured against; restore {kept.parent} (the weights candidates inherit from, meant "
                "to be committed with the records), or start a new records file")
        parent.load_weights(path)
        _save_weights(parent, kept)  # not compiled: the layers' weights only, half the file
        return parent

    def _train_again(self, split: tuple[int, ...], seed: int) -> None:
        """Train a parent whose weights are missing once more, and check it against its record: where it differs,
        a note beside its weights says so, and no search inherits from it."""
        from netsplit.search.rule import job_for, same_network

        print(f"  weights of {','.join(map(str, split))} (seed {seed}) are missing: training it again",
              file=sys.stderr, flush=True)
        again = self(job_for(self.config, split, seed))
        path = self.weights_path(split, seed)
        if not path.exists():
            raise OSError(errno.ENOSPC, f"No space left on device for the weights of {','.join(map(str, split))} "
                          f"(seed {seed}), so the networks that inherit from it cannot start; free some space and run "
                          "again: the finished records are kept")
        recorded = same_network([r for r in read_records(self.records) if tuple(r.split) == split and r.seed == seed],
                                "baseline") if self.records is not None and self.records.exists() else []
        if not recorded or abs(recorded[0].accuracy - again.accuracy) <= 1e-6:
            return
        note = (f"{','.join(map(str, split))} seed {seed} trained again scores {again.accuracy:.4%}, its record "
                f"{recorded[0].accuracy:.4%}: training is not bit-exact here")
        _differs(path).write_text(note)

    def __call__(self, job: Job) -> RunRecord:
        c, data = self.config, self.data()
        initialise = None if job.parent is None else partial(inherit, source=self._parent(job))
        train = TrainConfig(epochs=job.epochs, batch_size=c.batch_size, learning_rate=c.learning_rate,
                            verbose=self.verbose)
        if initialise is not None and c.finetune_learning_rate is not None:  # a gentle fine-tune, no warm-up
            train = replace(train, learning_rate=c.finetune_learning_rate, warmup_epochs=0.0)
        model, record = train_network(
            partial(self._build, job.split), data, train, job.seed, initialise=initialise,
            label=f"block {job.block} factor {job.factor} seed {job.seed}",
            experiment="search", config_hash=c.hash, model=c.model_name, architecture=c.architecture,
            variant="proposed", split=list(job.split),
            width_multiplier=c.width_multiplier, role=job.role, block=job.block, factor=job.factor,
        )
        if job.role == "baseline" and diverged(record.loss, data.num_classes):
            raise TrainingFailed(
                f"the search's baseline {','.join(map(str, job.split))} (seed {job.seed}) diverged: test loss "
                f"{record.loss:.3g} against {math.log(data.num_classes):.2f} for a guess, accuracy {record.accuracy:.1%} "
                f"against chance {1 / data.num_classes:.1%} on {data.num_classes} classes (learning rate "
                f"{c.learning_rate:g}); a failed run is no reference, and nothing was recorded")
        if self.weights_dir is not None and job.role != "reference":  # a reference is no parent: its block's base is
            try:
                _save_weights(model, self.weights_path(job.split, job.seed))
            except OSError as error:  # the record is the finished work: kept; a child trains this network again
                print(f"  the weights of {','.join(map(str, job.split))} (seed {job.seed}) could not be saved "
                      f"({error.strerror or error}); its record is kept", file=sys.stderr, flush=True)
        return record


def _differs(weights: Path) -> Path:
    """The note beside a parent's weights that says it was trained again to another accuracy than its record's."""
    return weights.with_name(weights.name + ".differs")


def _save_weights(model: keras.Model, path: Path) -> None:
    """Save ``model``'s weights to ``path`` whole or not at all; a disk without room for them is found before
    writing (h5py can crash the process on a write that fails midway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    needed = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights) + WEIGHTS_OVERHEAD
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise OSError(errno.ENOSPC, f"No space left on device: {path.name} needs about {needed / 2**20:.1f} MiB, "
                      f"{free / 2**20:.1f} MiB free")
    write_atomically(path, model.save_weights)


WEIGHTS_OVERHEAD = 2**20
"""Bytes a weights file holds beyond the weights themselves (its layout), at most."""
