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

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterable, Sequence

import numpy as np

from netsplit.search.config import SearchConfig, changes_nothing, check_reference, check_threshold
from netsplit.errors import InputError
from netsplit.search.executors import InProcess
from netsplit.choices import MODELS, check_split
from netsplit.records import RecordStore, RunRecord, correct_images


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


@dataclass(frozen=True)
class Step:
    """One block of a search's path: the split it starts from (the block at 1) and each candidate factor's split."""

    block: int
    base: tuple[int, ...]
    candidates: dict[int, tuple[int, ...]]

    def kept(self, factor: int) -> tuple[int, ...]:
        """The split the path goes on from once the block keeps ``factor``."""
        return self.base[: self.block - 1] + (factor,) + self.base[self.block:]


def search_step(split: Sequence[int], block: int, factors: Iterable[int]) -> Step:
    """The step of a search at ``block`` from the split so far: the block back at 1, then each factor in turn.

    >>> step = search_step((8, 1, 1), 2, (2, 4))
    >>> step.base, step.candidates, step.kept(4)
    ((8, 1, 1), {2: (8, 2, 1), 4: (8, 4, 1)}, (8, 4, 1))
    """
    base = tuple(split[: block - 1]) + (1,) + tuple(split[block:])
    step = Step(block, base, {})
    return Step(block, base, {factor: step.kept(factor) for factor in factors})


def search_path(start: Sequence[int], outcomes: Iterable[BlockOutcome]) -> list[Step]:
    """The steps a search took, from ``start``, through the blocks ``outcomes`` decided (each at its candidates)."""
    steps, split = [], tuple(start)
    for outcome in outcomes:
        steps.append(search_step(split, outcome.block, outcome.candidates))
        split = steps[-1].kept(outcome.chosen)
    return steps


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
    bonus: float | None = None  # with a fair reference: what the candidates' extra epochs gave the unsplit block
    intervals: dict[int, tuple[float, float]] = field(default_factory=dict)  # paired: each factor's drop, 95 %, points
    paired_drops: dict[int, float] = field(default_factory=dict)  # paired: each factor's mean drop on the same images
    within_noise: tuple[int, ...] = ()  # paired: factors whose interval holds the threshold (the smaller one kept)


def selection_accuracy(record: RunRecord) -> float:
    """The accuracy a search decides on: on the validation images when the record has them, else the test set."""
    return record.accuracy if record.validation_accuracy is None else record.validation_accuracy


def _mean_sd(records: list[RunRecord]) -> tuple[float, float]:
    values = [selection_accuracy(r) for r in records]
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def decide_block(block: int, baseline: float, reference: float, candidates: dict[int, list[RunRecord]],
                 factors: Iterable[int], threshold: float, skipped: tuple[int, ...] = (),
                 paired_with: list[RunRecord] | None = None, fair: bool = False) -> BlockOutcome:
    """Accept the longest prefix of ascending factors whose mean drop stays below ``threshold``, passing over
    the ``skipped`` ones (see :func:`changes_nothing`); every candidate trained in that order is reported,
    also past the first that fails (a full sweep). A ``fair`` reference (the baseline fine-tuned as the
    candidates were) has its gain over the baseline reported as the block's ``bonus``.

    ``paired_with`` (the reference's records) decides each factor on :func:`paired_drop` instead: accept where its
    whole interval lies below the threshold, stop where it lies at or above it, and where it holds the threshold
    (within noise) stop too, keeping the smaller factor."""
    outcome, stopped = BlockOutcome(block, baseline, reference, skipped=tuple(skipped)), False
    outcome.bonus = 100 * (reference - baseline) if fair else None
    for factor in factors:
        if factor in skipped:
            continue
        if factor not in candidates:
            break
        outcome.candidates[factor] = _mean_sd(candidates[factor])
        if paired_with is not None:
            outcome.paired_drops[factor], low, high = paired_drop(paired_with, candidates[factor])
            outcome.intervals[factor] = (low, high)
            if low < threshold <= high and not stopped:
                outcome.within_noise += (factor,)
            stopped = stopped or high >= threshold
            if not stopped:
                outcome.chosen = factor
            continue
        stopped = stopped or accuracy_drop(reference, outcome.candidates[factor][0]) >= threshold
        if not stopped:
            outcome.chosen = factor
    return outcome


def paired_drop(reference: list[RunRecord], candidate: list[RunRecord]) -> tuple[float, float, float]:
    """A candidate's drop against its reference on the very same images (points): the mean over the images of
    every seed the two share, and its 95 % interval by a paired bootstrap (scipy). The images are the validation
    images where the records have them, else the test images."""
    from scipy.stats import bootstrap

    by_seed, pairs = {r.seed: r for r in reference}, []
    for record in candidate:
        if record.seed not in by_seed:
            continue
        images = "validation" if record.validation_correct else "test"
        ours, theirs = correct_images(record, images), correct_images(by_seed[record.seed], images)
        if ours is None or theirs is None:
            raise InputError(f"the records of {','.join(map(str, record.split))} (seed {record.seed}) or of its "
                             "reference predate per-image results; decide on the mean instead")
        pairs.append((theirs.astype(np.float32), ours.astype(np.float32)))
    if not pairs:
        raise InputError("a candidate and its reference share no seed: nothing to pair")
    before, after = (np.concatenate(side) for side in zip(*pairs))
    drop = bootstrap((before, after), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                     n_resamples=2000, batch=100, confidence_level=0.95, method="percentile", random_state=0)
    interval = drop.confidence_interval
    return 100 * float(np.mean(before - after)), 100 * float(interval.low), 100 * float(interval.high)


@dataclass
class SearchResult:
    """The final split, each block's outcome, and every record the search used; ``missing`` is the
    split a replay's path needs next when no record holds it (the split is then the path so far)."""

    split: tuple[int, ...]
    outcomes: list[BlockOutcome]
    records: list[RunRecord]
    threshold: float
    missing: tuple[int, ...] | None = None
    start: tuple[int, ...] | None = None  # the split the search started from (None: unsplit)

    @property
    def path(self) -> list[Step]:
        """The steps the search took, block by block (:func:`search_path`)."""
        return search_path(self.start or (1,) * len(self.split), self.outcomes)

    @property
    def decided_on(self) -> str:
        """Which images the decisions looked at: "validation" (held out of training) or "test"."""
        return "validation" if any(r.validation_accuracy is not None for r in self.records) else "test"


class NotRecorded(Exception):
    """What an evaluator that only reads records raises for a network they lack: the search then ends with
    its path so far, naming that network's split as ``missing``."""

    def __init__(self, split: tuple[int, ...]):
        super().__init__(f"the records lack the network {','.join(map(str, split))}")
        self.split = tuple(split)


class SplitSearch:
    """Runs :class:`SearchConfig` against an evaluator, appending each trained network to ``store``; where the
    evaluator raises :class:`NotRecorded`, the result is the path so far with that split ``missing``."""

    def __init__(self, config: SearchConfig, evaluate: Callable[[Job], RunRecord], store: RecordStore,
                 executor=None, log: Callable[[str], None] | None = None):
        self.config, self.evaluate, self.store = config, evaluate, store
        self.executor = executor or InProcess()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.blocks = config.block_count
        self.planned = config.seeds * (1 + len(config.blocks) * len(config.candidate_factors))
        self.visited: list[tuple[int, ...]] = []  # the splits this search has looked at, in order
        self.seeds_used = set(self._seeds)  # and its seeds, with those added where a decision needed them

    def _known(self, job: Job) -> list[RunRecord]:
        return same_network(self.store.find(split=list(job.split), seed=job.seed), job.role)

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
        return [r for split in self.visited for role in ("baseline", "reference")
                for r in self._records(split, role, sorted(self.seeds_used))]

    def _records(self, split: tuple[int, ...], role: str = "baseline", seeds: Iterable[int] | None = None) -> list[RunRecord]:
        return [r for s in (seeds or self._seeds) for r in same_network(self.store.find(split=list(split), seed=s), role)]

    @property
    def _seeds(self) -> range:
        return range(self.config.seed, self.config.seed + self.config.seeds)

    def run(self) -> SearchResult:
        """Search every block of the configuration. A block's baseline is the network accepted so far;
        it is trained (from scratch) only when no record of it exists, as for the unsplit first one."""
        split, outcomes, missing = list(self.config.start), [], None
        try:
            self._search(split, outcomes)
        except NotRecorded as lack:
            missing = lack.split
        return SearchResult(tuple(split), outcomes, self.used_records(), self.config.threshold, missing=missing,
                            start=tuple(self.config.start))

    def _search(self, split: list[int], outcomes: list[BlockOutcome]) -> None:
        """Decide block after block, keeping ``split`` and ``outcomes`` up to date as it goes."""
        config, original = self.config, []
        for block in config.blocks:
            step = search_step(split, block, config.candidate_factors)
            base = step.base
            split[:] = base
            jobs = [Job(base, s, "baseline", block, 1, config.baseline_epochs) for s in self._seeds]
            self._run(jobs, None)
            original = original or base
            if config.fair_reference:  # the block unsplit, fine-tuned as its candidates are
                self._run([Job(base, s, "reference", block, 1, config.finetune_epochs, parent=base)
                           for s in self._seeds], None)
            self.against = (base, "reference") if config.fair_reference else \
                (base if config.reference == "block" else original, "baseline")
            self.block_seeds = self._seeds  # more where a paired decision needs them (_more_seeds)
            baseline, reference = _mean_sd(self._records(base))[0], _mean_sd(self._records(*self.against))[0]
            candidates = {}
            skipped = self._no_saving(step)
            jobs_by_factor = {k: [job_for(config, candidate, s) for s in self._seeds]
                              for k, candidate in step.candidates.items() if k not in skipped}

            def decide(found: dict[int, list[RunRecord]]) -> BlockOutcome:
                paired = self._records(*self.against, self.block_seeds) if config.decision == "paired" else None
                return decide_block(block, baseline, reference, found, config.candidate_factors, config.threshold,
                                    skipped, paired, config.fair_reference)

            outcome = decide(candidates)
            try:
                if self.executor.parallel or config.sweep:
                    self._run([job for jobs in jobs_by_factor.values() for job in jobs], reference)
                for factor, jobs in jobs_by_factor.items():
                    self._run(jobs, reference)
                    candidates[factor] = self._records(jobs[0].split)
                    outcome = decide(candidates)
                    if factor in outcome.within_noise and config.extra_seeds:
                        outcome = self._more_seeds(step, factor, candidates, decide, outcome)
                    if outcome.chosen != factor and not config.sweep:
                        break
            except NotRecorded:  # the block as far as its records go, undecided
                known = {k: found for k, jobs in jobs_by_factor.items() if (found := self._records(jobs[0].split))}
                outcome = decide(known)
                outcome.decided = False
                outcomes.append(outcome)
                raise
            outcomes.append(outcome)
            split[block - 1] = outcome.chosen
            self.log(f"block {block}: factor {outcome.chosen} fixed; split so far {','.join(map(str, split))}")

    def _more_seeds(self, step: Step, factor: int, candidates: dict[int, list[RunRecord]],
                    decide: Callable[[dict], BlockOutcome], outcome: BlockOutcome) -> BlockOutcome:
        """A paired decision within noise: further seeds of the candidate and of its reference, one at a time up to
        ``extra_seeds``, deciding again after each (the block's base of a new seed trains along its whole path)."""
        config, against = self.config, self.against[0]
        first = config.seed + config.seeds
        for seed in range(first, first + config.extra_seeds):
            jobs = [job_for(config, against, seed), job_for(config, step.candidates[factor], seed)]
            if config.fair_reference:
                jobs.insert(1, Job(step.base, seed, "reference", step.block, 1, config.finetune_epochs, parent=step.base))
            self._run(jobs, None)
            self.block_seeds = range(config.seed, max(seed + 1, self.block_seeds.stop))  # never fewer than a factor before had
            self.seeds_used.add(seed)
            candidates[factor] = self._records(step.candidates[factor], seeds=self.block_seeds)
            outcome = decide(candidates)
            self.log(f"block {step.block} factor {factor}: {seed - first + 1} more seed(s), drop "
                     f"{outcome.intervals[factor][0]:+.2f} to {outcome.intervals[factor][1]:+.2f} points")
            if factor not in outcome.within_noise:
                break
        return outcome

    def _no_saving(self, step: Step) -> tuple[int, ...]:
        """The candidate factors of a step that would cost no fewer parameters or MACs (skipped, logged)."""
        if self.config.model in MODELS and splits_a_later_conv(self.config.model, step.block):
            return ()
        costs = self.config.costs
        skipped = tuple(k for k, candidate in step.candidates.items() if changes_nothing(costs(step.base), costs(candidate)))
        if skipped:
            self.log(f"block {step.block}: factor {', '.join(map(str, skipped))} skipped: the split would keep every "
                     "parameter and MAC of the block (each branch reading its whole input) and add a fusion")
        return skipped


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


def same_network(records: Iterable[RunRecord], role: str) -> list[RunRecord]:
    """Those of ``records`` (of one split and seed) that are the network a job of ``role`` trains: a fine-tuned
    reference is a network of its own; a baseline and a candidate of the same split are one network."""
    return [r for r in records if (r.role == "reference") == (role == "reference")]


def searched_records(records: Iterable[RunRecord], seeds: Iterable[int] | None = None) -> list[RunRecord]:
    """The records a search decides on: its baselines and candidates (of ``seeds``, if given)."""
    seeds = None if seeds is None else set(seeds)
    return [r for r in records if r.role in ("baseline", "candidate") and (seeds is None or r.seed in seeds)]


def searched_blocks(searched: list[RunRecord], start: Sequence[int] | None = None) -> list[int]:
    """The blocks a search's records decide, in order: those they hold, less the blocks ``start`` splits."""
    return sorted({r.block for r in searched} - {b for b, factor in enumerate(start or (), 1) if factor > 1})


def replay(records: list[RunRecord], threshold: float, reference: str = "block",
           seeds: Iterable[int] | None = None, start: Sequence[int] | None = None,
           blocks: Sequence[int] | None = None, factors: Sequence[int] | None = None,
           fair_reference: bool = False, decision: str = "mean") -> SearchResult:
    """Rebuild a search's outcome at ``threshold`` from its records alone (what ``netsplit report`` shows).

    Records serve every threshold. The candidate factors are ``factors``, by default those the records hold
    (a block whose every recorded factor was accepted is then undecided); the blocks are ``blocks``, by
    default every block that ``start`` leaves unsplit (the search started from that split, see
    :class:`~netsplit.search.config.SearchConfig`). Where the path needs a network the records lack (a search cut
    short, or still running), the result's ``missing`` names it: it is never called final.
    With ``fair_reference`` each block is judged against its baseline fine-tuned as the candidates were
    (records of role "reference"), and with ``decision`` "paired" on the paired per-image difference, as the
    search with those options decides.

    >>> from netsplit.records import read_records
    >>> from netsplit.runtime import SOURCE_ROOT
    >>> replay(read_records(SOURCE_ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl"), threshold=0.5).split
    (1, 2, 1, 1, 1)
    """
    if isinstance(records, (str, os.PathLike)) or not all(isinstance(r, RunRecord) for r in records):
        raise InputError(f"replay takes run records, such as read_records(path) gives, got {type(records).__name__} "
                         f"{str(records)[:60]!r}")
    seeds = None if seeds is None else set(seeds)
    searched = searched_records(records, seeds)
    if not searched:
        raise InputError("no search records (roles baseline and candidate) to report")
    check_threshold(threshold)
    check_reference(reference)
    configurations = sorted({(r.model, r.config_hash) for r in searched})
    if len(configurations) > 1:
        named = ", ".join(f"{model} ({key})" for model, key in configurations)
        raise InputError(f"the records mix {len(configurations)} search configurations: {named}; "
                         "report one configuration's records file at a time")
    factors = sorted(factors or {r.factor for r in searched if r.role == "candidate"})
    if not factors:
        raise InputError("the records hold no candidate yet, so no block is decided; name the search's candidate "
                         "factors to see which network it needs next")
    by_split: dict[tuple, list[RunRecord]] = {}
    for r in searched:
        by_split.setdefault(tuple(r.split), []).append(r)
    references: dict[tuple, list[RunRecord]] = {}
    for r in records:
        if r.role == "reference" and (seeds is None or r.seed in seeds):
            references.setdefault(tuple(r.split), []).append(r)
    start = check_split(start, len(searched[0].split))
    split, outcomes, original = start, [], []
    for block in blocks or [b for b, factor in enumerate(start, 1) if factor == 1]:
        step = search_step(split, block, factors)
        base, splits = step.base, step.candidates
        if base not in by_split:
            return SearchResult(base, outcomes, records, threshold, missing=base, start=start)
        original = original or by_split[base]
        against = by_split[base] if reference == "block" else original
        if fair_reference:
            if base not in references:
                return SearchResult(base, outcomes, records, threshold, missing=base, start=start)
            against = references[base]
        candidates = {f: by_split[s] for f, s in splits.items() if s in by_split}
        decide = partial(decide_block, block, _mean_sd(by_split[base])[0], _mean_sd(against)[0], candidates, factors,
                         threshold, paired_with=against if decision == "paired" else None, fair=fair_reference)
        outcome = decide(tuple(f for f, s in splits.items() if s in by_split and _no_saving(by_split, base, s)))
        if outcome.chosen == max(outcome.candidates, default=1) and len(candidates) < len(factors):
            # a factor the records lack may have been passed over as saving nothing: count it (Keras) only then
            outcome = decide(tuple(f for f, s in splits.items() if _no_saving(by_split, base, s)))
        untried = [f for f in factors if f not in outcome.candidates and f not in outcome.skipped]
        if untried and outcome.chosen == max(outcome.candidates, default=1):  # every factor tried was accepted
            outcome.decided = False
            return SearchResult(base, [*outcomes, outcome], records, threshold, missing=splits[untried[0]], start=start)
        outcomes.append(outcome)
        split = step.kept(outcome.chosen)
    return SearchResult(split, outcomes, records, threshold, start=start)


def _no_saving(by_split: dict[tuple, list[RunRecord]], base: tuple[int, ...], split: tuple[int, ...]) -> bool:
    """Whether ``split`` saves nothing over ``base``, by the costs their records hold, or, for a built-in
    model whose records lack them (a skipped factor is never trained), by counting."""
    first = by_split[base][0]
    block = next(i + 1 for i, (a, b) in enumerate(zip(base, split)) if a != b)
    if first.model in MODELS and splits_a_later_conv(first.model, block):
        return False

    def costs(s: tuple[int, ...]) -> tuple[int, int] | None:
        records = by_split.get(s)
        if records and records[0].params and records[0].macs:
            return records[0].params, records[0].macs
        if first.model not in MODELS:
            return None
        from netsplit.complexity import network_costs

        return network_costs(first.model, s, first.width_multiplier)
    base_costs, split_costs = costs(base), costs(split)
    return None not in (base_costs, split_costs) and changes_nothing(base_costs, split_costs)


def splits_a_later_conv(model: str, block: int) -> bool:
    """Whether block ``block`` of a built-in model holds more than one convolution: split, its branches then split
    a later one, so it saves parameters and MACs whatever its first convolution reads (nothing to count).

    >>> splits_a_later_conv("vgg16", 1), splits_a_later_conv("resnet18", 1), splits_a_later_conv("resnet18", 2)
    (True, False, True)
    """
    from netsplit.blocks import blueprint

    units = blueprint(model).blocks[block - 1]
    return len(units) > 1 or units[0].kind == "residual"


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
        if any(other.bonus is not None for other in result.outcomes):
            row["bonus"] = None if o.bonus is None else round(o.bonus, 2)
        row["chosen"] = o.chosen if o.decided else "?"
        rows.append(row)
    return rows
