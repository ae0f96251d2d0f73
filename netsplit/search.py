"""The block-by-block split search of the paper (Fig. 4): the rule and the loop.

For each block, from the first: take the current network with that block unsplit as its baseline,
then split it by each candidate factor in ascending order and fine-tune; accept while the accuracy
drop stays below the threshold, stop at the first candidate that reaches it, and keep the last
accepted factor while later blocks are searched.

A trained network is filed under what determines it (the training settings, its split and seed), not
under the threshold: searches that differ only in how they decide share every network they have in
common. The rule is a pure function of run records (:func:`decide_block`), so a search, a resumed
search, a parallel executor and ``netsplit report`` reach the same split from the same records.
"""

from __future__ import annotations

import functools
import math
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from netsplit.choices import check_dataset, is_network_file
from netsplit.data import Dataset, load_dataset
from netsplit.errors import InputError
from netsplit.executors import InProcess
from netsplit.layers import Unit, check_factor
from netsplit.models import MODELS, architecture
from netsplit.networks import Network, describe_network, load_network
from netsplit.records import RecordStore, RunRecord, config_hash
from netsplit.train import check_head

REFERENCES = ("block", "original")
DECISION_FIELDS = ("threshold", "factors", "blocks", "reference", "seeds", "sweep")
"""Fields that decide which networks a search trains and accepts, never what one of them is."""
LATER_DEFAULTS = {"validation_size": None, "sweep": False, "architecture": None, "finetune_learning_rate": None}
"""Fields added after records were first written, with the defaults that behave as before them."""


@dataclass(frozen=True)
class SearchConfig:
    """Everything that decides a search's results; the paper's settings are the defaults.

    ``model`` is a built-in model or a ``.keras`` file of your own network (see
    :func:`~netsplit.networks.split_network`), trained from scratch as the built-in ones are; its
    records carry the file's name and a hash of its architecture (:attr:`architecture`), which is
    part of the records' key.

    >>> SearchConfig(threshold=0.5).hash == SearchConfig(threshold=2.0).hash  # the same networks
    True
    """

    model: str = "vgg16"
    dataset: str = "fashion_mnist"
    threshold: float = 0.5  # accuracy drop, percentage points
    factors: tuple[int, ...] = (2, 4, 6, 8)
    blocks: tuple[int, ...] | None = None  # None: every block
    baseline_epochs: int = 10
    finetune_epochs: int = 3
    inherit: bool = True
    reference: str = "block"
    seeds: int = 1
    seed: int = 0
    width_multiplier: float = 1.0
    train_size: int | None = None
    test_size: int | None = None
    batch_size: int = 128
    learning_rate: float = 0.05
    finetune_learning_rate: float | None = None  # None: fine-tune as from scratch (warm-up to learning_rate)
    validation_size: int | None = None  # images held out of training to decide on; None: decide on the test set
    sweep: bool = False  # train every candidate factor of a block, not only up to the first that fails
    architecture: str | None = field(default=None, init=False)  # a .keras network's architecture hash

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(self.factors))
        if is_network_file(self.model):
            object.__setattr__(self, "architecture", self.network().architecture())
        blocks = range(1, self.block_count + 1) if self.blocks is None else self.blocks
        object.__setattr__(self, "blocks", tuple(blocks))
        validate(self)

    def network(self) -> Network | None:
        """Your own network cut into blocks, where ``model`` is a .keras file; None for a built-in model."""
        return describe_network(load_network(self.model)) if is_network_file(self.model) else None

    def block_units(self) -> list[tuple[Unit, ...]]:
        """Each block's layers as the search splits them (a built-in model's at its width multiplier)."""
        network = self.network()
        if network is None:
            return list(architecture(self.model, self.width_multiplier).blocks)
        return [block.units for block in network.blocks]

    @property
    def block_count(self) -> int:
        """How many blocks the model has."""
        return len(self.block_units())

    @property
    def model_name(self) -> str:
        """The model as records name it: a built-in model's name, or the .keras file's name."""
        return Path(self.model).name if self.architecture else self.model

    @property
    def training(self) -> dict:
        """The settings that determine every trained network (all but :data:`DECISION_FIELDS`; settings
        added later count only when they differ from their default, so older keys stay valid)."""
        fields = {k: v for k, v in asdict(self).items()
                  if k not in DECISION_FIELDS and (k not in LATER_DEFAULTS or v != LATER_DEFAULTS[k])}
        return fields | {"model": self.model_name}  # a .keras file's name, wherever it lies

    @property
    def hash(self) -> str:
        """Key of the records file: a hash of :attr:`training`."""
        return config_hash(self.training)

    def legacy_fields(self) -> dict:
        """The configuration as it was hashed before networks were shared across thresholds."""
        return {("width" if k == "width_multiplier" else k): v for k, v in asdict(self).items()
                if k not in LATER_DEFAULTS}

    @property
    def legacy_hash(self) -> str:
        """The key of records files written before networks were shared across thresholds."""
        return config_hash(self.legacy_fields())

    def costs(self, split: tuple[int, ...]) -> tuple[int, int]:
        """Parameters and MACs of the network split by ``split`` (counted, not trained)."""
        return network_costs(self.model, tuple(split), self.width_multiplier)

    def load_data(self, path: str | None = None) -> Dataset:
        """The configuration's data: its subsets and held-out validation images, from ``path`` if given
        (for your own network, resized to its input)."""
        network = self.network()
        data = load_dataset(self.dataset, self.train_size, self.test_size, seed=self.seed, path=path,
                            validation_size=self.validation_size,
                            image_shape=None if network is None else network.input_shape)
        if network is not None:
            check_head(network.model, data)
        return data

    def default_records(self, folder: str | Path = "results") -> Path:
        """``results/<model>-<dataset>-<hash>.jsonl``: new training settings get a new file (your own
        network and data are named by their file or folder name)."""
        dataset = "-".join(Path(part).stem for part in self.dataset.split(":"))
        return Path(folder) / f"{Path(self.model_name).stem}-{dataset}-{self.hash}.jsonl"


@functools.cache
def network_costs(model: str, split: tuple[int, ...] | None, width_multiplier: float = 1.0,
                  input_shape: tuple[int, int, int] = (32, 32, 3)) -> tuple[int, int]:
    """Parameters and MACs of ``model`` (built-in, at ``width_multiplier`` and ``input_shape``, or a .keras
    file of your own at its input) split by ``split``."""
    from netsplit.complexity import analyse, total
    from netsplit.models import split_model

    if is_network_file(model):
        from netsplit.networks import split_network

        network = split_network(load_network(model), split, weights=False, implementation="branches")
    else:
        with warnings.catch_warnings():  # counting the split that saves nothing is how the search finds it out
            warnings.simplefilter("ignore", UserWarning)
            network = split_model(model, split, input_shape, width_multiplier=width_multiplier,
                                  implementation="branches")
    cost = total(analyse(network))
    return cost.params, cost.macs


def changes_nothing(base: tuple[int, int], candidate: tuple[int, int]) -> bool:
    """Whether a candidate costs no fewer parameters and no fewer MACs than the network it splits: a block of
    one convolution whose branches all read its whole input does the same arithmetic, plus a fusion. Such a
    factor is skipped, not trained."""
    return candidate[0] >= base[0] and candidate[1] >= base[1]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def validate(config: SearchConfig) -> None:
    """Raise ValueError naming the first invalid option and what is valid."""
    if config.model not in MODELS and not is_network_file(config.model):
        raise InputError(f"unknown model {config.model!r}; valid models are {', '.join(MODELS)} "
                         "and .keras files of your own networks")
    if config.architecture and config.width_multiplier != 1.0:
        raise InputError(f"width_multiplier scales the built-in models; {config.model} keeps its own widths")
    check_threshold(config.threshold)
    factors = config.factors
    if not factors or not all(_is_integer(f, minimum=2) for f in factors):
        raise InputError(f"candidate factors must be a non-empty list of integers >= 2, got {list(factors)}")
    if list(factors) != sorted(set(factors)):
        raise InputError(f"candidate factors must be strictly ascending, got {list(factors)}")
    units = config.block_units()
    count = len(units)
    if not config.blocks or any(not _is_integer(b, 1) or b > count for b in config.blocks):
        raise InputError(f"blocks must be numbers 1..{count} of {config.model}, got {list(config.blocks)}")
    if list(config.blocks) != sorted(set(config.blocks)):
        raise InputError(f"blocks must be searched in ascending order, got {list(config.blocks)}")
    check_reference(config.reference)
    check_dataset(config.dataset)
    for name in ("seeds", "baseline_epochs", "finetune_epochs", "batch_size"):
        if not _is_integer(getattr(config, name), minimum=1):
            raise InputError(f"{name} must be a positive integer, got {getattr(config, name)!r}")
    for name in ("train_size", "test_size"):
        value = getattr(config, name)
        if value is not None and not _is_integer(value, minimum=1):
            raise InputError(f"{name} must be a positive integer or None (all images), got {value!r}")
    if not _is_integer(config.seed, minimum=0):
        raise InputError(f"seed must be a non-negative integer, got {config.seed!r}")
    if not _is_number(config.learning_rate) or config.learning_rate <= 0:
        raise InputError(f"learning_rate must be a positive number, got {config.learning_rate!r}")
    if not _is_number(config.width_multiplier) or not 0 < config.width_multiplier <= 4:
        raise InputError(f"width_multiplier must be a number in (0, 4], got {config.width_multiplier!r}")
    for name in ("inherit", "sweep"):
        if not isinstance(getattr(config, name), bool):
            raise InputError(f"{name} must be True or False, got {getattr(config, name)!r}")
    if config.finetune_learning_rate is not None and (not _is_number(config.finetune_learning_rate)
                                                      or config.finetune_learning_rate <= 0):
        raise InputError(f"finetune_learning_rate must be a positive number or None (as from scratch), "
                         f"got {config.finetune_learning_rate!r}")
    if config.validation_size is not None and not _is_integer(config.validation_size, minimum=1):
        raise InputError(f"validation_size must be a positive integer or None (decide on the test set), "
                         f"got {config.validation_size!r}")
    _check_candidates(config, units)


def _check_candidates(config: SearchConfig, units: list[tuple[Unit, ...]]) -> None:
    """Raise InputError if a candidate factor cannot split a searched block (its ``units``: wider than the
    block's narrowest layer)."""
    for block in config.blocks:
        widths = [unit.width for unit in units[block - 1]]
        for factor in config.factors:
            check_factor(factor, widths, f"block {block} of {config.model_name} (candidate factors {list(config.factors)})")


def check_threshold(threshold: object) -> float:
    """``threshold`` if it is a finite, non-negative number of percentage points, else raise InputError."""
    if not _is_number(threshold) or threshold < 0:
        raise InputError(f"threshold must be a finite, non-negative number of percentage points, got {threshold!r}")
    return threshold


def check_reference(reference: object) -> str:
    """``reference`` if it is one of :data:`REFERENCES`, else raise InputError."""
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    return reference


@dataclass(frozen=True)
class Job:
    """One network to train: its split, seed, role in the search, and the network it inherits from."""

    split: tuple[int, ...]
    seed: int
    role: str
    block: int
    factor: int
    epochs: int
    parent: tuple[int, ...] | None = None


def job_for(config: SearchConfig, split: tuple[int, ...], seed: int) -> Job:
    """The job that trains ``split`` in a search: from scratch when unsplit (or without inheritance),
    else fine-tuned from the same split with its last split block back at 1."""
    block = max((i + 1 for i, factor in enumerate(split) if factor > 1), default=0)
    if block == 0:
        return Job(tuple(split), seed, "baseline", 1, 1, config.baseline_epochs)
    if not config.inherit:
        return Job(tuple(split), seed, "candidate", block, split[block - 1], config.baseline_epochs)
    parent = split[: block - 1] + (1,) + split[block:]
    return Job(tuple(split), seed, "candidate", block, split[block - 1], config.finetune_epochs, parent=tuple(parent))


def accuracy_drop(reference: float, accuracy: float) -> float:
    """Drop in percentage points (positive when accuracy fell)."""
    return round(100 * (reference - accuracy), 4)


@dataclass
class BlockOutcome:
    """A block's baseline, each candidate's mean accuracy and spread, and the accepted factor."""

    block: int
    baseline: float
    reference: float
    candidates: dict[int, tuple[float, float]] = field(default_factory=dict)  # factor: (mean, stdev)
    chosen: int = 1
    decided: bool = True  # False: the records lack the next factor this block's rule must try
    skipped: tuple[int, ...] = ()  # factors that would not reduce the network's parameters or MACs


def selection_accuracy(record: RunRecord) -> float:
    """The accuracy a search decides on: on the validation images when the record has them, else the test set."""
    return record.accuracy if record.validation_accuracy is None else record.validation_accuracy


def _mean_sd(records: list[RunRecord]) -> tuple[float, float]:
    values = [selection_accuracy(r) for r in records]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def decide_block(block: int, baseline: float, reference: float, candidates: dict[int, list[RunRecord]],
                 factors: Iterable[int], threshold: float, skipped: tuple[int, ...] = ()) -> BlockOutcome:
    """Accept the longest prefix of ascending factors whose mean drop stays below ``threshold``, passing over
    the ``skipped`` ones (see :func:`changes_nothing`); every candidate trained in that order is reported,
    also past the first that fails (a full sweep)."""
    outcome, stopped = BlockOutcome(block, baseline, reference, skipped=tuple(skipped)), False
    for factor in factors:
        if factor in skipped:
            continue
        if factor not in candidates:
            break
        outcome.candidates[factor] = _mean_sd(candidates[factor])
        stopped = stopped or accuracy_drop(reference, outcome.candidates[factor][0]) >= threshold
        if not stopped:
            outcome.chosen = factor
    return outcome


@dataclass
class SearchResult:
    """The final split, each block's outcome, and every record the search used; ``missing`` is the
    split a replay's path needs next when no record holds it (the split is then the path so far)."""

    split: tuple[int, ...]
    outcomes: list[BlockOutcome]
    records: list[RunRecord]
    threshold: float
    missing: tuple[int, ...] | None = None

    @property
    def decided_on(self) -> str:
        """Which images the decisions looked at: "validation" (held out of training) or "test"."""
        return "validation" if any(r.validation_accuracy is not None for r in self.records) else "test"


class SplitSearch:
    """Runs :class:`SearchConfig` against an evaluator, appending each trained network to ``store``."""

    def __init__(self, config: SearchConfig, evaluate: Callable[[Job], RunRecord], store: RecordStore,
                 executor=None, log: Callable[[str], None] | None = None):
        self.config, self.evaluate, self.store = config, evaluate, store
        self.executor = executor or InProcess()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.blocks = config.block_count
        self.planned = config.seeds * (1 + len(config.blocks) * len(config.factors))
        self.visited: list[tuple[int, ...]] = []  # the splits this search has looked at, in order

    def _known(self, job: Job) -> list[RunRecord]:
        return self.store.find(split=list(job.split), seed=job.seed)

    def _run(self, jobs: list[Job], reference: float | None) -> None:
        """Train the jobs that have no record yet and append their records as they finish."""
        todo = [job for job in jobs if not self._known(job)]
        self.visited += [job.split for job in jobs if job.split not in self.visited]
        started = time.perf_counter()
        for record in self.executor.map(self.evaluate, todo):
            self.store.append(record)
            done = len(self.used_records())
            self.log(_progress_line(record, reference, self.config.threshold, done, self.planned,
                                    time.perf_counter() - started, self._records(tuple(record.split))))
            started = time.perf_counter()

    def used_records(self) -> list[RunRecord]:
        """The records of the networks this search has looked at (the file may hold other searches' too)."""
        return [r for split in self.visited for r in self._records(split)]

    def _records(self, split: tuple[int, ...]) -> list[RunRecord]:
        return [r for s in self._seeds for r in self.store.find(split=list(split), seed=s)]

    @property
    def _seeds(self) -> range:
        return range(self.config.seed, self.config.seed + self.config.seeds)

    def run(self) -> SearchResult:
        """Search every block of the configuration. A block's baseline is the network accepted so far;
        it is trained (from scratch) only when no record of it exists, as for the unsplit first one."""
        config, split = self.config, [1] * self.blocks
        original, outcomes = None, []
        for block in config.blocks:
            base = tuple(split[: block - 1]) + (1,) * (self.blocks - block + 1)
            split = list(base)
            jobs = [Job(base, s, "baseline", block, 1, config.baseline_epochs) for s in self._seeds]
            self._run(jobs, None)
            baseline = _mean_sd(self._records(base))[0]
            original = baseline if original is None else original
            reference = baseline if config.reference == "block" else original
            candidates = {}
            skipped = self._no_saving(base, block)
            jobs_by_factor = {k: [self._candidate(base, block, k, s) for s in self._seeds] for k in config.factors
                              if k not in skipped}
            outcome = decide_block(block, baseline, reference, candidates, config.factors, config.threshold, skipped)
            if self.executor.parallel or config.sweep:
                self._run([job for jobs in jobs_by_factor.values() for job in jobs], reference)
            for factor, jobs in jobs_by_factor.items():
                self._run(jobs, reference)
                candidates[factor] = self._records(jobs[0].split)
                outcome = decide_block(block, baseline, reference, candidates, config.factors, config.threshold,
                                       skipped)
                if outcome.chosen != factor and not config.sweep:
                    break
            outcomes.append(outcome)
            split[block - 1] = outcome.chosen
            self.log(f"block {block}: factor {outcome.chosen} fixed; split so far {','.join(map(str, split))}")
        return SearchResult(tuple(split), outcomes, self.used_records(), config.threshold)

    def _no_saving(self, base: tuple[int, ...], block: int) -> tuple[int, ...]:
        """The candidate factors of ``block`` that would cost no fewer parameters or MACs (skipped, logged)."""
        costs = self.config.costs
        skipped = tuple(k for k in self.config.factors
                        if changes_nothing(costs(base), costs(base[: block - 1] + (k,) + base[block:])))
        if skipped:
            self.log(f"block {block}: factor {', '.join(map(str, skipped))} skipped: the split would keep every "
                     "parameter and MAC of the block (each branch reading its whole input) and add a fusion")
        return skipped

    def _candidate(self, base: tuple[int, ...], block: int, factor: int, seed: int) -> Job:
        return job_for(self.config, base[: block - 1] + (factor,) + base[block:], seed)


def _progress_line(record: RunRecord, reference: float | None, threshold: float, done: int, planned: int,
                   seconds: float, seeds_so_far: list[RunRecord] = ()) -> str:
    """One trained network: its accuracy and, for a candidate, what the rule makes of it, which with several
    seeds is the mean over the seeds trained so far (the decision waits for all of them)."""
    split = ",".join(map(str, record.split))
    line = f"[{done}/{planned} at most] block {record.block} factor {record.factor} (split {split}, seed {record.seed}): "
    if record.validation_accuracy is None:
        line += f"accuracy {record.accuracy:.2%}"
    else:
        line += f"validation accuracy {record.validation_accuracy:.2%} (test {record.accuracy:.2%})"
    if reference is not None:
        drop = accuracy_drop(reference, selection_accuracy(record))
        line += f", drop {drop:+.2f} pt"
        if len(seeds_so_far) > 1:
            drop = accuracy_drop(reference, _mean_sd(list(seeds_so_far))[0])
            line += f", mean over {len(seeds_so_far)} seeds {drop:+.2f} pt"
        line += f" -> {'accept' if drop < threshold else 'stop'}"
    return line + f" ({seconds:.1f} s)"


def searched_records(records: Iterable[RunRecord], seeds: Iterable[int] | None = None) -> list[RunRecord]:
    """The records a search decides on: its baselines and candidates (of ``seeds``, if given)."""
    seeds = None if seeds is None else set(seeds)
    return [r for r in records if r.role in ("baseline", "candidate") and (seeds is None or r.seed in seeds)]


def replay(records: list[RunRecord], threshold: float | None = None, reference: str = "block",
           seeds: Iterable[int] | None = None) -> SearchResult:
    """Rebuild a search's outcome from its records alone (what ``netsplit report`` shows).

    Records serve every threshold; ``threshold`` may be left out only for records written by one
    search that stored its threshold in them (the format before networks were shared). The factors
    and blocks are those the records hold; where the path needs a network they lack, the result's
    ``missing`` names it.

    >>> from netsplit.records import read_records
    >>> replay(read_records("results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl"), threshold=0.5).split
    (1, 2, 1, 1, 1)
    """
    searched = searched_records(records, seeds)
    if not searched:
        raise InputError("no search records (roles baseline and candidate) to report")
    if threshold is None:
        stored = {r.threshold for r in searched}
        if len(stored) != 1 or None in stored:
            raise InputError("these records serve any threshold: give one, e.g. --threshold 0.5")
        threshold = stored.pop()
    check_threshold(threshold)
    check_reference(reference)
    factors = sorted({r.factor for r in searched if r.role == "candidate"})
    by_split: dict[tuple, list[RunRecord]] = {}
    for r in searched:
        by_split.setdefault(tuple(r.split), []).append(r)
    split, outcomes, original = [1] * len(searched[0].split), [], None
    for block in sorted({r.block for r in searched}):
        base = tuple(split)
        if base not in by_split:
            return SearchResult(base, outcomes, records, threshold, missing=base)
        baseline = _mean_sd(by_split[base])[0]
        original = baseline if original is None else original
        splits = {f: base[: block - 1] + (f,) + base[block:] for f in factors}
        candidates = {f: by_split[s] for f, s in splits.items() if s in by_split}
        skipped = tuple(f for f, s in splits.items() if _no_saving(by_split, base, s))
        outcome = decide_block(block, baseline, baseline if reference == "block" else original, candidates,
                               factors, threshold, skipped)
        untried = [f for f in factors if f not in outcome.candidates and f not in skipped]
        if untried and outcome.chosen == max(outcome.candidates, default=1):  # every factor tried was accepted
            outcome.decided = False
            return SearchResult(base, [*outcomes, outcome], records, threshold, missing=splits[untried[0]])
        outcomes.append(outcome)
        split[block - 1] = outcome.chosen
    return SearchResult(tuple(split), outcomes, records, threshold)


def _no_saving(by_split: dict[tuple, list[RunRecord]], base: tuple[int, ...], split: tuple[int, ...]) -> bool:
    """Whether ``split`` saves nothing over ``base``, by the costs their records hold, or, for a built-in
    model whose records lack them (a skipped factor is never trained), by counting."""
    first = by_split[base][0]
    def costs(s: tuple[int, ...]) -> tuple[int, int] | None:
        records = by_split.get(s)
        if records and records[0].params and records[0].macs:
            return records[0].params, records[0].macs
        return network_costs(first.model, s, first.width) if first.model in MODELS else None
    base_costs, split_costs = costs(base), costs(split)
    return None not in (base_costs, split_costs) and changes_nothing(base_costs, split_costs)


def outcome_rows(result: SearchResult) -> list[dict]:
    """One row per block, as in the paper's Table 1: baseline, accuracy per factor, chosen factor."""
    factors = sorted({f for o in result.outcomes for f in (*o.candidates, *o.skipped)})
    rows = []
    for o in result.outcomes:
        row = {"block": o.block, "baseline": round(100 * o.baseline, 2)}
        for factor in factors:
            mean, sd = o.candidates.get(factor, (None, 0.0))
            row[f"K={factor}"] = ("no saving" if factor in o.skipped else None) if mean is None else \
                round(100 * mean, 2) if sd == 0 else f"{100 * mean:.2f}±{100 * sd:.2f}"
        row["chosen"] = o.chosen if o.decided else "?"
        rows.append(row)
    return rows
