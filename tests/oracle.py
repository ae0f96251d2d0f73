"""A scripted accuracy oracle: the search's rule tested without training anything."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netsplit.search.config import SearchConfig
from netsplit.records import RunRecord, pack_correct
from netsplit.search.rule import Job


@dataclass
class Oracle:
    """Accuracy = base - the listed penalty (in points) of each block's factor + a per-seed offset.

    With ``validation``, that is the validation accuracy, and the test accuracy is ``base`` whatever the
    split, so a search that looked at the test set would accept every factor.
    """

    config: SearchConfig
    penalties: dict[int, dict[int, float]]
    base: float = 0.90
    seed_offsets: dict[int, float] = field(default_factory=dict)
    calls: list[Job] = field(default_factory=list)
    validation: bool = False
    bonus: float = 0.0  # points every fine-tuned network (a job with a parent) gains from its extra epochs
    images: int = 0  # with images, which validation images each network gets right: the first ones by a seed's order

    def accuracy(self, split, seed, finetuned: bool = False) -> float:
        penalty = sum(self.penalties.get(b + 1, {}).get(f, 0.0) for b, f in enumerate(split) if f > 1)
        gain = self.bonus if finetuned else 0.0
        return round(self.base + (gain - penalty) / 100 + self.seed_offsets.get(seed, 0.0), 6)

    def __call__(self, job: Job) -> RunRecord:
        self.calls.append(job)
        record = self._record(job)
        if self.images:  # a network right on the easiest images of this seed's draw: networks of a seed nest
            easy = np.random.default_rng(job.seed).permutation(self.images)
            correct = np.zeros(self.images, dtype=bool)
            correct[easy[: round(record.validation_accuracy * self.images)]] = True
            record.validation_size, record.validation_correct = self.images, pack_correct(correct)
            record.validation_accuracy = float(correct.mean())
        return record

    def _record(self, job: Job) -> RunRecord:
        return RunRecord(
            experiment="oracle", config_hash=self.config.hash, model=self.config.model, variant="proposed",
            dataset="synthetic", split=list(job.split), seed=job.seed, epochs=job.epochs,
            accuracy=self.base if self.validation else self.accuracy(job.split, job.seed, job.parent is not None),
            validation_accuracy=self.accuracy(job.split, job.seed, job.parent is not None) if self.validation else None, loss=0.0, params=0, macs=0, memory_layerwise=0,
            memory_branchwise=0, input_size=32, train_size=0, test_size=0, width_multiplier=1.0, train_seconds=0.0,
            first_step_seconds=0.0, role=job.role, block=job.block, factor=job.factor,
        )
