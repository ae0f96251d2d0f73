"""The further seeds and searches a published chapter's profile asks for, trained without executing the chapter.

    python -m netsplit.study.seeds vgg16
    python -m netsplit.study.seeds vgg16 --searches "fair rule, seed 0"

Where a verdict needs more seeds than the rest (``network_seeds`` in ``profiles.yml``), the networks it
names and their thin controls train seed after seed, so that a run cut short leaves every compared
network with about as many seeds as the others. ``--searches`` runs the chapter's searches again with
each change its profile names (``search_changes``; those named, if any), then trains each split they
found from scratch as the chapter does. Each record is written as its network finishes, into the
chapter's own records files, and a re-run resumes; the chapter then reads them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netsplit.errors import InputError
from netsplit.search.config import SearchConfig
from netsplit.study.reproduce import chapter_parameters
from netsplit.search.runner import run_search
from netsplit.runtime import SOURCE_ROOT
from netsplit.study.chapters import (
    ComparisonNetwork, FinalConfig, comparison_networks, found_networks, other_searches, thin_controls, train_networks,
)


def _chapter(model: str) -> tuple[dict, SearchConfig, FinalConfig, Path]:
    """The published chapter's parameters, its search, its comparison networks' recipe and its records folder."""
    parameters = chapter_parameters(model)
    config = SearchConfig.from_options(parameters, others=True)
    final = FinalConfig(config, parameters["final_epochs"], parameters["final_seeds"], parameters["network_seeds"])
    return parameters, config, final, SOURCE_ROOT / parameters["records_dir"]


def _compared(model: str, parameters: dict, config: SearchConfig, records: Path) -> list[ComparisonNetwork]:
    """The chapter's comparison networks (those its profile names), with the split its search found where the
    records hold it."""
    found = run_search(config, config.default_records(records), train=False, verbose=False)
    return comparison_networks(model, None if found.missing else found.split, parameters.get("comparisons"))


def train_seeds(model: str) -> None:
    """Train the seeds ``network_seeds`` names for ``model``'s published chapter (and its controls)."""
    parameters, config, final, records = _chapter(model)
    data = config.load_data(parameters["data_path"])
    networks = _compared(model, parameters, config, records)
    networks += thin_controls(model, networks, config.width_multiplier, data.input_shape)
    chosen = [network for network in networks if network.name in final.network_seeds]
    train_networks(final, chosen, final.records_path(records), data=data)


def train_searches(model: str, names: list[str] | None = None) -> None:
    """Run the searches of ``model``'s published chapter again with each change its profile names (those
    ``names``, if given), in turn, then train each split they found from scratch as the chapter does."""
    parameters, config, final, records = _chapter(model)
    searches = other_searches(config, parameters["search_changes"])
    unknown = sorted(set(names or ()) - set(searches))
    if unknown:
        raise InputError(f"no search {', '.join(map(repr, unknown))} in the {model} chapter's profile; its searches "
                         f"are {', '.join(map(repr, searches)) or 'none'}")
    results = {}
    for label, search in searches.items():
        if names is None or label in names:
            print(f"search with {label}", file=sys.stderr, flush=True)
            results[label] = run_search(search, search.default_records(records), data_path=parameters["data_path"])
    found = found_networks(results, _compared(model, parameters, config, records))
    train_networks(final, found, final.records_path(records), data=config.load_data(parameters["data_path"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("vgg16", "resnet18"))
    parser.add_argument("--searches", nargs="*", metavar="NAME", default=None,
                        help="run the chapter's other searches (those named; all if none is named) instead of seeds")
    args = parser.parse_args(argv)
    try:
        if args.searches is None:
            train_seeds(args.model)
        else:
            train_searches(args.model, args.searches or None)
    except InputError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
