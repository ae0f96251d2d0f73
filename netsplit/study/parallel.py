"""A profile's comparison networks trained several at once, each record written as its network finishes.

    KERAS_BACKEND=jax python -m netsplit.study.parallel --profile gpu --out results/gpu --workers 4 --deadline 480

Small networks leave a large GPU idle, and compiling them is work for the CPU: several worker processes
share the device (each with its share of its memory) and one persistent compilation cache, and train the
chapters' networks (the comparison networks and their thin controls, every seed) in order of value. The
parent process alone writes the records, one file per chapter under ``--out``, as each network finishes:
a run cut short (a device's time limit) keeps every finished network, and a second run trains only what
the files lack. ``--deadline`` stops handing out networks after that many seconds, so that the run ends
within a call's limit. On a CPU, with ``--workers 1``, it is a check of the path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

from netsplit.search.config import SearchConfig
from netsplit.errors import InputError
from netsplit.records import RecordsLock, RecordStore, RunRecord
from netsplit.study.reproduce import chapter_parameters, load_profiles, read_overrides

_DATA = {}  # each worker's data sets, loaded once per chapter


def chapter_jobs(profile: str, models: list[str], names: list[str] | None = None,
                 overrides: dict | None = None) -> list[tuple[str, int, object]]:
    """(model, seed, network) for every comparison network and thin control of each model's chapter under
    ``profile`` (those of ``names`` only, if given), the chapter's own order of value: more seeds first, seed by
    seed."""
    from netsplit.study.chapters import comparison_networks, thin_controls, training_plan

    jobs = []
    for model in models:
        final = final_config(profile, model, overrides)
        networks = comparison_networks(model, None)
        if names is None or any(name.startswith("thin: ") for name in names):  # their widths take some counting
            shape = final.search.load_data(None).input_shape
            networks += thin_controls(model, networks, final.search.width_multiplier, shape)
        chosen = [n for n in networks if names is None or n.name in names]
        jobs += [(model, seed, network) for seed, network in training_plan(final, chosen)]
    return jobs


def final_config(profile: str, model: str, overrides: dict | None = None):
    """The comparison networks' recipe of ``model``'s chapter under ``profile`` (and ``overrides``)."""
    from netsplit.study.chapters import FinalConfig

    parameters = {**chapter_parameters(model, profile), **(overrides or {})}
    config = SearchConfig.from_options(parameters, others=True)
    return FinalConfig(config, parameters["final_epochs"], parameters["final_seeds"], parameters["network_seeds"])


def _start_worker(share: float, cache: str) -> None:
    """A worker's device memory share and the compilation cache every worker shares (set before Keras starts)."""
    os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{share:.3f}"
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    os.environ["NETSPLIT_COMPILATION_CACHE"] = cache


def _train(profile: str, model: str, seed: int, network, overrides: dict) -> dict:
    """One network trained in a worker; its record as a dict (records cross processes as data)."""
    import dataclasses

    from netsplit.study.chapters import train_comparison

    final = final_config(profile, model, overrides)
    if model not in _DATA:
        _DATA[model] = final.search.load_data(None)
    return dataclasses.asdict(train_comparison(final, network, seed, _DATA[model], verbose=False))


def untrained(jobs: list[tuple[str, int, object]], finals: dict, stores: dict[str, RecordStore]) -> dict[tuple, list]:
    """The jobs the records lack, grouped by the network they train: one network under several names (thin
    controls that came out at one width) trains once, and its record is filed under each name."""
    from netsplit.study.chapters import record_key

    twins: dict[tuple, list] = {}
    for model, seed, network in jobs:
        if not any(record_key(r) == finals[model].key(network) for r in stores[model].find(seed=seed)):
            twins.setdefault((model, seed, replace(network, name="")), []).append(network)
    return twins


def run(profile: str, models: list[str], out: Path, workers: int, deadline: float | None = None,
        names: list[str] | None = None, overrides: dict | None = None, log=print) -> int:
    """Train what ``out``'s records lack, ``workers`` at a time; how many networks were trained."""
    started, trained = time.monotonic(), 0
    finals = {model: final_config(profile, model, overrides) for model in models}
    locks = [RecordsLock(final.records_path(out)) for final in finals.values()]
    for lock in locks:
        lock.__enter__()
    try:
        stores = {model: RecordStore(final.records_path(out), final.hash) for model, final in finals.items()}
        twins = untrained(chapter_jobs(profile, models, names, overrides), finals, stores)
        todo = [(model, seed, networks[0]) for (model, seed, _), networks in twins.items()]
        log(f"{len(todo)} networks to train, {workers} at a time")
        cache = os.environ.get("NETSPLIT_COMPILATION_CACHE") or str(out / ".jax-cache")
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                                   initargs=(0.9 / workers, cache))
        with pool:
            running = {}
            while todo or running:
                while todo and len(running) < workers and (deadline is None or time.monotonic() - started < deadline):
                    model, seed, network = todo.pop(0)
                    running[pool.submit(_train, profile, model, seed, network, overrides or {})] = (model, seed, network)
                if not running:
                    log(f"deadline of {deadline:g} s reached: {len(todo)} networks left for the next run")
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    model, seed, network = running.pop(future)
                    record = RunRecord(**future.result())
                    for name in (n.name for n in twins[model, seed, replace(network, name="")]):
                        stores[model].append(replace(record, experiment=name))
                    trained += 1
                    log(f"[{trained}] {model} {network.name} seed {seed}: {record.accuracy:.2%} "
                        f"({record.train_seconds:.0f} s, {time.monotonic() - started:.0f} s in all)")
    finally:
        for lock in locks:
            lock.__exit__(None, None, None)
    return trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="gpu")
    parser.add_argument("--models", default="vgg16,resnet18")
    parser.add_argument("--out", type=Path, required=True, help="the folder the records files go to")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--deadline", type=float, default=None, help="seconds after which no network starts")
    parser.add_argument("--networks", default=None, help="only these networks, by name, comma-separated")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a chapter parameter of the profile (value read as YAML)")
    args = parser.parse_args(argv)
    try:
        profiles = [name for name in load_profiles() if name != "published"]
        if args.profile not in profiles:
            raise InputError(f"unknown profile {args.profile!r}; profiles are {', '.join(profiles)}")
        if args.workers < 1:
            raise InputError(f"--workers must be at least 1, got {args.workers}")
        models = args.models.split(",")
        unknown = [m for m in models if m not in ("vgg16", "resnet18")]
        if unknown:
            raise InputError(f"unknown model {unknown[0]!r}; the chapters' models are vgg16 and resnet18")
        trained = run(args.profile, models, args.out, args.workers, args.deadline,
                      None if args.networks is None else args.networks.split(","), read_overrides(args.p),
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    except InputError as error:
        print(f"parallel: error: {error}", file=sys.stderr)
        return 2
    print(f"{trained} networks trained; records in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
