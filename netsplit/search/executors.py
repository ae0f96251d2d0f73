"""Where a search's networks train: one after another in this process, or concurrently on Ray.

An executor only maps an evaluator over jobs; the search rule never depends on which one runs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Iterator

from netsplit.errors import InputError
from netsplit.records import RunRecord

EXECUTORS = ("sequential", "ray")


class InProcess:
    """Trains one network after another in this process, only as far as the rule needs."""

    parallel = False

    def map(self, evaluate: Callable, jobs: list) -> Iterator[RunRecord]:
        return map(evaluate, jobs)


class RayExecutor:
    """Trains the candidates of a block concurrently on a Ray cluster (local when no address)."""

    parallel = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError:
            raise ImportError("the ray executor needs Ray: pip install 'netsplit[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            env = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}}
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                     runtime_env=env, log_to_driver=False, configure_logging=False)

    def map(self, evaluate: Callable, jobs: list) -> Iterator[RunRecord]:
        remote = self.ray.remote(num_cpus=1)(_evaluate_as_dict)
        references = [remote.remote(evaluate, job) for job in jobs]
        for reference in references:
            yield RunRecord(**self.ray.get(reference))


def _evaluate_as_dict(evaluate: Callable, job) -> dict:
    return asdict(evaluate(job))


def make_executor(name: str, address: str | None = None) -> InProcess | RayExecutor:
    """The executor called ``name`` ("sequential" or "ray")."""
    if name not in EXECUTORS:
        raise InputError(f"executor must be one of {EXECUTORS}, got {name!r}")
    return RayExecutor(address) if name == "ray" else InProcess()
