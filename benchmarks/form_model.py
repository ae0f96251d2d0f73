"""Refit the cost model that picks a split block's form without timing it (``FORM_COSTS``).

``benchmarks/train_speed.py`` times every split block of the ``cpu`` study in each form; this script reads
those timings, fits log(masked / branches) step time on the block's narrowest branch width and its factor,
and prints the model beside the one ``netsplit.implementations`` uses, with what each way of choosing costs
over the faster form:

    python benchmarks/form_model.py [results/train-speed-<backend>-<cpu>.jsonl]
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

from netsplit.blocks import blueprint
from netsplit.implementations import CONFIDENT, FORM_COSTS, branch_width, fit_form_model
from netsplit.records import read_lines

ROOT = Path(__file__).resolve().parent.parent


def form_rows(records: list[dict]) -> list[dict]:
    """One row per block shape timed in masked and branches form (the last timing of each), with the
    features :func:`~netsplit.implementations.fit_form_model` takes."""
    rows = {}
    for record in records:
        for block in record.get("blocks", []) if record.get("kind") == "step" else []:
            if not block["block"].startswith("block") or not {"masked", "branches"} <= set(block["ms"]):
                continue
            index = int(block["block"].removeprefix("block")) - 1
            units = blueprint(record["model"], record["width"]).blocks[index]
            key = (record["model"], record["width"], block["block"], block["factor"], record["first_conv"])
            rows[key] = {"branch_width": branch_width(units, block["factor"]),
                         "factor": block["factor"], "ms": block["ms"]}
    return list(rows.values())


def choice_cost(rows: list[dict], choose) -> float:
    """Mean time of the form ``choose(row)`` picks over the faster of masked and branches."""
    return statistics.mean(row["ms"][choose(row)] / min(row["ms"]["masked"], row["ms"]["branches"]) for row in rows)


def main(path: Path) -> None:
    rows = form_rows(read_lines(path))
    fitted = fit_form_model(rows, path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path))
    model = lambda row: "masked" if FORM_COSTS.log_ratio(row["branch_width"], row["factor"]) < 0 else "branches"  # noqa: E731
    print(f"{len(rows)} block shapes from {path}")
    print(f"fitted:   {fitted}")
    print(f"in use:   {FORM_COSTS}")
    for name, choose in {"cost model": model, "branches always": lambda row: "branches",
                         "masked always": lambda row: "masked"}.items():
        print(f"{name:>16}: {choice_cost(rows, choose):.3f} x the faster form, on average")
    margin = CONFIDENT * FORM_COSTS.residual_sd
    predicted = [(FORM_COSTS.log_ratio(r["branch_width"], r["factor"]),
                  math.log(r["ms"]["masked"] / r["ms"]["branches"])) for r in rows]
    confident = [(p, m) for p, m in predicted if abs(p) > margin]
    print(f"confident (|predicted log ratio| > {margin:.2f}, not timed): {len(confident)} of {len(rows)} shapes, "
          f"{sum((p < 0) != (m < 0) for p, m in confident)} of them on the slower form")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / FORM_COSTS.source)
