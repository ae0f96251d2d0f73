"""The further seeds a published chapter's profile asks for, trained without executing the chapter.

    python -m netsplit.study.seeds vgg16

Where a verdict needs more seeds than the rest (``network_seeds`` in ``profiles.yml``), the networks it
names and their thin controls train seed after seed, so that a run cut short leaves every compared
network with about as many seeds as the others. Each record is written as its network finishes, into
the chapter's own records file, and a re-run resumes; the chapter then reads them.
"""

from __future__ import annotations

import argparse

from netsplit.search.config import SearchConfig
from netsplit.study.reproduce import chapter_parameters
from netsplit.search.runner import run_search
from netsplit.runtime import SOURCE_ROOT
from netsplit.study.chapters import FinalConfig, comparison_networks, thin_controls, train_networks


def train_seeds(model: str) -> None:
    """Train the seeds ``network_seeds`` names for ``model``'s published chapter (and its controls)."""
    parameters = chapter_parameters(model)
    config = SearchConfig.from_options(parameters, others=True)
    final = FinalConfig(config, parameters["final_epochs"], parameters["final_seeds"], parameters["network_seeds"])
    records = SOURCE_ROOT / parameters["records_dir"]
    found = run_search(config, config.default_records(records), train=False, verbose=False)
    data = config.load_data(parameters["data_path"])
    networks = comparison_networks(model, None if found.missing else found.split)
    networks += thin_controls(model, networks, config.width_multiplier, data.input_shape)
    chosen = [network for network in networks if network.name in final.network_seeds]
    train_networks(final, chosen, final.records_path(records), data=data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("vgg16", "resnet18"))
    train_seeds(parser.parse_args(argv).model)


if __name__ == "__main__":
    main()
