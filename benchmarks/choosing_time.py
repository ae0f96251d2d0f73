"""What choosing each split block's form costs: the smoke profile's VGG16 search, and ResNet18's first build,
on a machine that has timed nothing (an empty form cache), with the timing netsplit's training does.

    python -m benchmarks.choosing_time [--quick] [--out results/choosing-time-<backend>-<cpu>.jsonl]

A search's records give, per network, the seconds spent building it (its forms chosen, timed where the cost model
is unsure) apart from its training seconds. Target: choosing under 5 % of a search's training time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.train_steps import results_file
from netsplit.records import read_records
from netsplit.runtime import provenance

RESNET18 = ((8, 4, 1, 2, 8), 0.125)
"""The ResNet18 split whose first build is timed: the study's width, a split with blocks the cost model is unsure of."""


def search_share(model: str, quick: bool, data_path: str | None) -> dict:
    """The smoke profile's search of ``model`` from empty records: seconds building and training its networks."""
    from netsplit.search.config import SearchConfig
    from netsplit.search.runner import run_search
    from netsplit.study.reproduce import chapter_parameters

    options = chapter_parameters(model, "smoke")
    if quick:
        options |= {"blocks": [1], "candidate_factors": [2], "train_size": 256, "test_size": 128}
    config = SearchConfig.from_options(options, others=True)
    records = Path(tempfile.mkdtemp()) / "records.jsonl"
    run_search(config, records, data_path=data_path, verbose=False)
    done = read_records(records)
    built, trained = sum(r.build_seconds for r in done), sum(r.train_seconds for r in done)
    return {"kind": "search", "model": model, "profile": "smoke", "networks": len(done), "quick": quick,
            "build_seconds": round(built, 2), "train_seconds": round(trained, 2), "share": round(built / trained, 4)}


def first_build(quick: bool) -> dict:
    """Seconds to build the ResNet18 split with its forms chosen (timed where unsure), on an empty cache."""
    from netsplit.implementations import timed_choices
    from netsplit.models import split_model

    split, width = ((2, 1, 1, 1, 1), 0.0625) if quick else RESNET18
    start = time.perf_counter()
    with timed_choices():
        model = split_model("resnet18", split, (32, 32, 1), width_multiplier=width)
    forms = [layer.implementation for layer in model.layers if hasattr(layer, "implementation")]
    return {"kind": "first build", "model": "resnet18", "split": list(split), "width": width, "forms": forms,
            "seconds": round(time.perf_counter() - start, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one block, one factor, a few hundred images")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ["NETSPLIT_IMPLEMENTATION_CACHE"] = str(Path(tempfile.mkdtemp()) / "empty.json")  # a fresh machine
    os.environ["NETSPLIT_MEASURE_IMPLEMENTATIONS"] = "1"
    out = args.out or results_file("choosing-time")
    with out.open("a") as handle:
        handle.write(json.dumps({"kind": "provenance", **provenance(), "quick": args.quick}) + "\n")
        for row in (search_share("vgg16", args.quick, args.data_path), first_build(args.quick)):
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
