"""Running a search: its configuration, the rule, and where its networks train, tied together.

:func:`run_search` holds a records file for a search's whole run and lets
:class:`~netsplit.search.rule.SplitSearch` ask a :class:`~netsplit.search.evaluator.TrainingEvaluator` for every network
the rule needs, on an executor (:mod:`netsplit.search.executors`); with ``train=False`` it only reads the records.
"""

from __future__ import annotations

from pathlib import Path

from netsplit.search.config import SearchConfig
from netsplit.search.evaluator import TrainingEvaluator
from netsplit.search.executors import make_executor
from netsplit.records import RecordsLock, RecordStore, RunRecord
from netsplit.search.rule import Job, NotRecorded, SearchResult, SplitSearch


def run_search(config: SearchConfig, records: str | Path | None = None, executor: str = "sequential",
               address: str | None = None, data_path: str | None = None, verbose: bool = True,
               train: bool = True) -> SearchResult:
    """Run (or resume) a search, appending records to ``records`` (default: under ``results/``), which it
    holds for its whole run: a second search on the same file is refused with a :class:`RecordsError`.
    With ``train=False`` it only reads the records: where its path needs a network they lack, the result is the
    path so far, with that network's split as ``missing``.

    >>> config = SearchConfig(model="vgg16", dataset="fashion_mnist", threshold=0.5, width_multiplier=0.25)
    >>> config.hash == SearchConfig(model="vgg16", dataset="fashion_mnist", threshold=2.0, width_multiplier=0.25).hash
    True
    """
    records = Path(records) if records else config.default_records()
    if not train:
        return SplitSearch(config, not_recorded, RecordStore(records, config.hash), log=lambda line: None).run()
    with RecordsLock(records):
        store = RecordStore(records, config.hash)
        runner = make_executor(executor, address)
        evaluate = TrainingEvaluator(config, records.with_suffix(".weights") if config.inherit else None,
                                     data_path, verbose, records)
        return SplitSearch(config, evaluate, store, runner).run()


def not_recorded(job: Job) -> RunRecord:
    """The evaluator of a search that only reads its records: every network it would train is missing."""
    raise NotRecorded(job.split)
