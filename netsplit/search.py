"""The block-by-block split search of the paper (Fig. 4).

For each block, from the first: train the current network with that block unsplit (its baseline),
then split it by each candidate factor in ascending order and fine-tune; accept while the accuracy
drop stays below the threshold, stop at the first candidate that reaches it, and keep the last
accepted factor while later blocks are searched.

The rule is a pure function of run records (:func:`decide_block`), so the search, a resumed search,
the parallel executor and ``netsplit report`` all reach the same split from the same records.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

from netsplit.data import load_dataset
from netsplit.inherit import inherit
from netsplit.models import MODELS, architecture, split_model
from netsplit.records import RecordStore, RunRecord, config_hash
from netsplit.train import TrainConfig, fit, make_record

REFERENCES = ("block", "original")


@dataclass(frozen=True)
class SearchConfig:
    """Everything that decides a search's results; the paper's settings are the defaults."""

    model: str = "vgg16"
    dataset: str = "fashion_mnist"
    threshold: float = 0.5  # accuracy drop, percentage points
    factors: tuple[int, ...] = (2, 4, 6, 8)
    blocks: tuple[int, ...] = (1, 2, 3, 4, 5)
    baseline_epochs: int = 10
    finetune_epochs: int = 3
    inherit: bool = True
    reference: str = "block"
    seeds: int = 1
    seed: int = 0
    width: float = 1.0
    train_size: int | None = None
    test_size: int | None = None
    batch_size: int = 128
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        validate(self)

    @property
    def hash(self) -> str:
        return config_hash(asdict(self))

    def default_records(self, folder: str | Path = "results") -> Path:
        """``results/<model>-<dataset>-<hash>.jsonl``: a new configuration gets a new file."""
        return Path(folder) / f"{self.model}-{self.dataset}-{self.hash}.jsonl"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate(config: SearchConfig) -> None:
    """Raise ValueError naming the first invalid option and what is valid."""
    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; valid models are {', '.join(MODELS)}")
    if not _is_number(config.threshold) or config.threshold < 0:
        raise ValueError(f"threshold must be a non-negative number of percentage points, got {config.threshold!r}")
    factors = config.factors
    if not factors or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 2 for f in factors):
        raise ValueError(f"candidate factors must be a non-empty list of integers >= 2, got {list(factors)}")
    if list(factors) != sorted(set(factors)):
        raise ValueError(f"candidate factors must be strictly ascending, got {list(factors)}")
    count = len(architecture(config.model).blocks)
    if not config.blocks or any(not isinstance(b, int) or not 1 <= b <= count for b in config.blocks):
        raise ValueError(f"blocks must be numbers 1..{count} of {config.model}, got {list(config.blocks)}")
    if list(config.blocks) != sorted(set(config.blocks)):
        raise ValueError(f"blocks must be searched in ascending order, got {list(config.blocks)}")
    if config.reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {config.reference!r}")
    for name in ("seeds", "baseline_epochs", "finetune_epochs"):
        if not isinstance(getattr(config, name), int) or getattr(config, name) < 1:
            raise ValueError(f"{name} must be a positive integer, got {getattr(config, name)!r}")


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


def _mean_sd(records: list[RunRecord]) -> tuple[float, float]:
    values = [r.accuracy for r in records]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def decide_block(block: int, baseline: float, reference: float, candidates: dict[int, list[RunRecord]],
                 factors: Iterable[int], threshold: float) -> BlockOutcome:
    """Accept the longest prefix of ascending factors whose mean drop stays below ``threshold``."""
    outcome = BlockOutcome(block, baseline, reference)
    for factor in factors:
        if factor not in candidates:
            break
        outcome.candidates[factor] = _mean_sd(candidates[factor])
        if accuracy_drop(reference, outcome.candidates[factor][0]) >= threshold:
            break
        outcome.chosen = factor
    return outcome


class Sequential:
    """Trains one network after another in this process, only as far as the rule needs."""

    parallel = False

    def map(self, evaluate: Callable[[Job], RunRecord], jobs: list[Job]) -> Iterator[RunRecord]:
        return map(evaluate, jobs)


class RayExecutor:
    """Trains the candidates of a block concurrently on a Ray cluster (local when no address)."""

    parallel = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError("the ray executor needs Ray: pip install 'netsplit[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}}
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                     runtime_env=env, log_to_driver=False, configure_logging=False)

    def map(self, evaluate: Callable[[Job], RunRecord], jobs: list[Job]) -> Iterator[RunRecord]:
        remote = self.ray.remote(num_cpus=1)(_evaluate_as_dict)
        references = [remote.remote(evaluate, job) for job in jobs]
        for reference in references:
            yield RunRecord(**self.ray.get(reference))


def _evaluate_as_dict(evaluate: Callable[[Job], RunRecord], job: Job) -> dict:
    return asdict(evaluate(job))


@dataclass
class SearchResult:
    """The final split, each block's outcome, and every record the search used."""

    split: tuple[int, ...]
    outcomes: list[BlockOutcome]
    records: list[RunRecord]


class SplitSearch:
    """Runs :class:`SearchConfig` against an evaluator, appending each trained network to ``store``."""

    def __init__(self, config: SearchConfig, evaluate: Callable[[Job], RunRecord], store: RecordStore,
                 executor=None, log: Callable[[str], None] | None = None,
                 on_fixed: Callable[[tuple[int, ...]], None] = lambda split: None):
        self.config, self.evaluate, self.store, self.on_fixed = config, evaluate, store, on_fixed
        self.executor = executor or Sequential()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.blocks = len(architecture(config.model).blocks)
        self.planned = config.seeds * (1 + len(config.blocks) * len(config.factors))

    def _known(self, job: Job) -> list[RunRecord]:
        return self.store.find(split=list(job.split), seed=job.seed)

    def _run(self, jobs: list[Job], reference: float | None) -> None:
        """Train the jobs that have no record yet and append their records as they finish."""
        todo = [job for job in jobs if not self._known(job)]
        started = time.perf_counter()
        for record in self.executor.map(self.evaluate, todo):
            record.threshold = self.config.threshold
            if reference is not None:
                record.reference_accuracy = reference
                record.drop = accuracy_drop(reference, record.accuracy)
                record.decision = "accept" if record.drop < self.config.threshold else "stop"
            self.store.append(record)
            done = len(self.store.records)
            self.log(_progress_line(record, done, self.planned, time.perf_counter() - started))
            started = time.perf_counter()

    def _records(self, split: tuple[int, ...]) -> list[RunRecord]:
        return [r for s in self._seeds for r in self.store.find(split=list(split), seed=s)]

    @property
    def _seeds(self) -> range:
        return range(self.config.seed, self.config.seed + self.config.seeds)

    def run(self) -> SearchResult:
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
            jobs_by_factor = {k: [self._candidate(base, block, k, s) for s in self._seeds] for k in config.factors}
            if self.executor.parallel:
                self._run([job for jobs in jobs_by_factor.values() for job in jobs], reference)
            for factor, jobs in jobs_by_factor.items():
                self._run(jobs, reference)
                candidates[factor] = self._records(jobs[0].split)
                outcome = decide_block(block, baseline, reference, candidates, config.factors, config.threshold)
                if outcome.chosen != factor:
                    break
            outcomes.append(outcome)
            split[block - 1] = outcome.chosen
            self.on_fixed(tuple(split))
            self.log(f"block {block}: factor {outcome.chosen} fixed; split so far {','.join(map(str, split))}")
        return SearchResult(tuple(split), outcomes, list(self.store.records))

    def _candidate(self, base: tuple[int, ...], block: int, factor: int, seed: int) -> Job:
        split = base[: block - 1] + (factor,) + base[block:]
        if self.config.inherit:
            return Job(split, seed, "candidate", block, factor, self.config.finetune_epochs, parent=base)
        return Job(split, seed, "candidate", block, factor, self.config.baseline_epochs)


def _progress_line(record: RunRecord, done: int, planned: int, seconds: float) -> str:
    split = ",".join(map(str, record.split))
    line = f"[{done}/{planned} at most] block {record.block} factor {record.factor} (split {split}, seed {record.seed}): "
    line += f"accuracy {record.accuracy:.2%}"
    if record.drop is not None:
        line += f", drop {record.drop:+.2f} pt -> {record.decision}"
    return line + f" ({seconds:.1f} s)"


def replay(records: list[RunRecord]) -> SearchResult:
    """Rebuild a search's outcome from its records alone (what ``netsplit report`` shows)."""
    searched = [r for r in records if r.role in ("baseline", "candidate")]
    if not searched:
        raise ValueError("no search records (roles baseline and candidate) to report")
    thresholds = {r.threshold for r in searched}
    if len(thresholds) != 1:
        raise ValueError(f"records of several thresholds {sorted(thresholds)}; report one search at a time")
    threshold = thresholds.pop()
    factors = sorted({r.factor for r in searched if r.role == "candidate"})
    by_split: dict[tuple, list[RunRecord]] = {}
    for r in searched:
        by_split.setdefault(tuple(r.split), []).append(r)
    split, outcomes = [1] * len(searched[0].split), []
    for block in sorted({r.block for r in searched}):
        base = tuple(split)
        if base not in by_split:
            break
        baseline = _mean_sd(by_split[base])[0]
        splits = {f: base[: block - 1] + (f,) + base[block:] for f in factors}
        candidates = {f: by_split[s] for f, s in splits.items() if s in by_split}
        if not candidates:
            break
        reference = next(iter(candidates.values()))[0].reference_accuracy
        outcome = decide_block(block, baseline, reference, candidates, factors, threshold)
        outcomes.append(outcome)
        split[block - 1] = outcome.chosen
    return SearchResult(tuple(split), outcomes, records)


def outcome_rows(result: SearchResult) -> list[dict]:
    """One row per block, as in the paper's Table 1: baseline, accuracy per factor, chosen factor."""
    factors = sorted({f for o in result.outcomes for f in o.candidates})
    rows = []
    for o in result.outcomes:
        row = {"block": o.block, "baseline": round(100 * o.baseline, 2)}
        for factor in factors:
            mean, sd = o.candidates.get(factor, (None, 0.0))
            row[f"K={factor}"] = None if mean is None else round(100 * mean, 2) if sd == 0 else f"{100 * mean:.2f}±{100 * sd:.2f}"
        row["chosen"] = o.chosen
        rows.append(row)
    return rows


class Trainer:
    """The evaluator of a real search: builds the job's network, inherits from its parent's saved
    weights, trains it and saves its weights (before its record is written, so a record always
    has weights to inherit from)."""

    def __init__(self, config: SearchConfig, weights_dir: Path | None, data_path: str | None = None,
                 verbose: bool = True):
        self.config, self.weights_dir, self.data_path, self.verbose = config, weights_dir, data_path, verbose
        self._data = None

    def __getstate__(self) -> dict:  # sent to Ray workers without the loaded data
        return {**self.__dict__, "_data": None}

    def data(self):
        if self._data is None:
            c = self.config
            self._data = load_dataset(c.dataset, c.train_size, c.test_size, seed=c.seed, path=self.data_path)
        return self._data

    def weights_path(self, split: tuple[int, ...], seed: int) -> Path:
        return self.weights_dir / f"{'-'.join(map(str, split))}_s{seed}.weights.h5"

    def _build(self, split: tuple[int, ...]):
        data = self.data()
        return split_model(self.config.model, split, data.input_shape, data.num_classes, self.config.width)

    def __call__(self, job: Job) -> RunRecord:
        c, data = self.config, self.data()
        initialise = None
        if job.parent is not None:
            parent = self._build(job.parent)
            parent.load_weights(self.weights_path(job.parent, job.seed))
            initialise = partial(inherit, source=parent)
        train = TrainConfig(epochs=job.epochs, batch_size=c.batch_size, learning_rate=c.learning_rate,
                            verbose=self.verbose)
        label = f"block {job.block} factor {job.factor} seed {job.seed}"
        model, result = fit(partial(self._build, job.split), data, train, job.seed, initialise, label)
        if self.weights_dir is not None:
            self.weights_dir.mkdir(parents=True, exist_ok=True)
            model.save_weights(self.weights_path(job.split, job.seed))
        return make_record(
            model, data, result, train, experiment="search", config_hash=c.hash, model=c.model,
            variant="proposed", split=list(job.split), seed=job.seed, width=c.width, role=job.role,
            block=job.block, factor=job.factor,
        )

    def keep_only(self, split: tuple[int, ...]) -> None:
        """Delete saved weights no later step can inherit from (all but the current network's)."""
        if self.weights_dir is None or not self.weights_dir.exists():
            return
        keep = {self.weights_path(split, s).name for s in range(self.config.seed, self.config.seed + self.config.seeds)}
        for path in self.weights_dir.glob("*.weights.h5"):
            if path.name not in keep:
                path.unlink()


EXECUTORS = ("sequential", "ray")


def run_search(config: SearchConfig, records: str | Path | None = None, executor: str = "sequential",
               address: str | None = None, data_path: str | None = None, verbose: bool = True) -> SearchResult:
    """Run (or resume) a search, appending records to ``records`` (default: under ``results/``)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    records = Path(records) if records else config.default_records()
    store = RecordStore(records, config.hash)
    weights = records.with_suffix(".weights") if config.inherit else None
    trainer = Trainer(config, weights, data_path, verbose)
    runner = RayExecutor(address) if executor == "ray" else Sequential()
    search = SplitSearch(config, trainer, store, runner, on_fixed=trainer.keep_only)
    return search.run()
