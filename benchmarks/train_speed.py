"""Train-step time of every network of the cpu study, split / unsplit, beside the ratio of their MACs.

The networks are read from the study's records (the searches' candidates and the comparison networks,
at the study's widths; at other widths the comparison networks only). Each network is timed as
``implementation="auto"`` builds it (the form of each split block timed and chosen on this machine) and
as one convolution per branch (the form the records were trained in), all steps interleaved so that
machine noise hits every network alike. From the ratio of the two, the script estimates the wall time
of the whole cpu profile: each record's training time scaled by how much faster its network's step is.

    python -m benchmarks.train_speed [--widths study,0.5,1] [--steps 8] [--out results/train-speed-<cpu>.jsonl]

Targets: every split network's step no slower than the unsplit one (ratio <= 1.0), proposed_I <= 0.85,
the estimated cpu profile <= 8 hours.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import keras

from benchmarks.train_steps import compile_for_training, random_batch, results_file, step_times
from netsplit.complexity import analyse, total
from netsplit.implementations import block_timings, timed_choices
from netsplit.records import RunRecord
from netsplit.runtime import device_name, provenance
from netsplit.stages import stages
from netsplit.study.chapters import STUDY_WIDTHS, ComparisonNetwork, paper_networks, study_records

INPUT_SHAPE = (32, 32, 1)
TARGET, PROPOSED_I_TARGET, HOURS_TARGET = 1.0, 0.85, 8.0
NOISY = 1.3


def network_of(record: RunRecord) -> ComparisonNetwork:
    """The network a record trained: a comparison network by its name, or a search's candidate by its split."""
    if record.experiment == "search":
        return ComparisonNetwork("split " + ",".join(map(str, record.split)), split=tuple(record.split))
    by_name = {network.name: network for network in paper_networks(tuple(record.split))}
    return by_name[record.experiment]


def networks_to_time(records: list[RunRecord], model: str, candidates: bool) -> dict[str, ComparisonNetwork]:
    """The networks of ``model`` in the records, the unsplit one first; search candidates if ``candidates``."""
    networks = {"baseline": ComparisonNetwork("baseline")}
    for record in records:
        if record.model == model and (candidates or record.experiment != "search"):
            networks.setdefault(_name(record), network_of(record))
    return networks


def implementations(network: keras.Model) -> str:
    """Each split block's form, as "auto" chose it ("-" for an unsplit block)."""
    return ",".join(stage.block.implementation if stage.block.factor > 1 else "-" for stage in stages(network))


def block_breakdown(network: keras.Model) -> list[dict]:
    """Per split block: its factor, chosen form, and the step ms of each form and of the unsplit block."""
    return [{"block": stage.name, "factor": stage.block.factor, "implementation": stage.block.implementation,
             "ms": block_timings(stage.block)} for stage in stages(network) if stage.block.factor > 1]


def measure(model: str, width: float, networks: dict[str, ComparisonNetwork], batch: int, steps: int) -> list[dict]:
    """Median step milliseconds of each network in its chosen forms and as separate branches, and ratios."""
    x, y = random_batch(batch, INPUT_SHAPE)
    built, macs, forms, blocks = {}, {}, {}, {}
    for name, network in networks.items():
        for implementation in ("auto", "branches"):
            if implementation == "branches" and name == "baseline":
                continue  # unsplit, every form is the same network
            keras.utils.set_random_seed(0)
            with timed_choices():  # built to be trained, as the study's networks are
                instance = network.build(model, input_shape=INPUT_SHAPE, width_multiplier=width,
                                         implementation=implementation)
            built[name, implementation] = compile_for_training(instance)
            if implementation == "auto":
                forms[name], blocks[name] = implementations(instance), block_breakdown(instance)
        macs[name] = total(analyse(built[name, "auto"])).macs
    times = step_times(built, x, y, steps)
    ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
    unsplit = ms["baseline", "auto"]
    rows = []
    for name, network in networks.items():
        branches = ms.get((name, "branches"), ms[name, "auto"])
        rows.append({"model": model, "width": width, "network": name, "variant": network.variant,
                     "split": list(network.split), "factor": network.factor, "first_conv": network.first_conv,
                     "implementations": forms[name], "macs_ratio": macs[name] / macs["baseline"],
                     "ms": ms[name, "auto"], "ms_branches": branches, "ratio": ms[name, "auto"] / unsplit,
                     "ratio_branches": branches / unsplit, "blocks": blocks[name],
                     "spread": _spread(times[name, "auto"]), "steps_ms": [round(1000 * t, 2) for t in times[name, "auto"]],
                     "steps_ms_branches": [round(1000 * t, 2) for t in times.get((name, "branches"), times[name, "auto"])]})
    return rows


def _spread(values: list[float]) -> float:
    """p90 / p10 of step times: how noisy a network's timing was."""
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))] / ordered[int(0.1 * (len(ordered) - 1))]


def estimate_hours(records: list[RunRecord], rows: list[dict], batch: int) -> dict[str, float]:
    """The cpu profile's training hours: as recorded; each record's time scaled by its network's step ratio
    (chosen forms / separate branches); and the train steps alone (epochs x steps per epoch x step time), as
    separate branches and in the chosen forms. A record whose network was not timed (the own network's)
    keeps its recorded time throughout."""
    step = {(row["model"], row["network"]): (row["ms_branches"], row["ms"]) for row in rows
            if row["width"] == STUDY_WIDTHS[row["model"]]}
    hours = {"recorded": 0.0, "scaled": 0.0, "steps_branches": 0.0, "steps_chosen": 0.0}
    for record in records:
        branches, chosen = step.get((record.model, _name(record)) if record.model in STUDY_WIDTHS else None,
                                    (None, None))
        steps = record.epochs * math.ceil(record.train_size / batch)
        recorded = record.train_seconds
        hours["recorded"] += recorded / 3600
        hours["scaled"] += (recorded if chosen is None else recorded * chosen / branches) / 3600
        hours["steps_branches"] += (recorded if branches is None else steps * branches / 1000) / 3600
        hours["steps_chosen"] += (recorded if chosen is None else steps * chosen / 1000) / 3600
    return hours


def print_estimate(hours: dict[str, float]) -> None:
    print(f"cpu profile: {hours['recorded']:.2f} h recorded, {hours['scaled']:.2f} h with each record scaled by its "
          f"network's step ratio; the train steps alone {hours['steps_branches']:.2f} h as separate branches, "
          f"{hours['steps_chosen']:.2f} h in the chosen forms. Target <= {HOURS_TARGET} h: "
          f"{'met' if hours['scaled'] <= HOURS_TARGET else 'NOT met'} as recorded and scaled, "
          f"{'met' if hours['steps_chosen'] <= HOURS_TARGET else 'NOT met'} by the steps alone")


def _name(record: RunRecord) -> str:
    network = network_of(record)
    return "baseline" if set(network.split) == {1} and network.variant == "proposed" else network.name


def verdict(row: dict) -> str:
    """Whether a row meets its target (proposed_I's is tighter); a row whose step times spread by more than
    :data:`NOISY` (p90 / p10) is not judged: the machine was busy, run it again."""
    if row["network"] == "baseline":
        return "-"
    if row["spread"] > NOISY:
        return f"noisy (p90/p10 > {NOISY}): run again"
    target = PROPOSED_I_TARGET if row["network"] == "proposed_I" else TARGET
    return "met" if row["ratio"] <= target else f"NOT met (<= {target})"


def print_rows(rows: list[dict]) -> None:
    print(f"{'model':>9} {'width':>6} {'network':<26} {'forms':<40} {'MACs':>5} {'ms':>7} {'ratio':>6} "
          f"{'branches':>8} {'p90/p10':>7}  target")
    for row in rows:
        print(f"{row['model']:>9} {row['width']:>6} {row['network']:<26} {row['implementations']:<40} "
              f"{row['macs_ratio']:>5.2f} {row['ms']:>7.1f} {row['ratio']:>6.2f} {row['ratio_branches']:>8.2f} "
              f"{row['spread']:>7.2f}  {verdict(row)}", flush=True)
        if verdict(row).startswith("NOT"):
            for block in row["blocks"]:
                print(f"{'':>17} {block['block']} split {block['factor']} ways runs {block['implementation']}; block step ms: "
                      + ", ".join(f"{form} {ms:.1f}" for form, ms in block["ms"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="study,0.5,1",
                        help="study (each model's study width, with the search candidates) and/or multipliers")
    parser.add_argument("--models", default="vgg16,resnet18")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--estimate", type=Path, default=None,
                        help="recompute the estimate of an earlier run's file from the records, without timing")
    args = parser.parse_args()
    records = study_records()
    if args.estimate:
        lines = [json.loads(line) for line in args.estimate.read_text().splitlines()]
        rows = [line for line in lines if line["kind"] == "step"]
        hours = estimate_hours(records, rows, lines[0]["batch"])
        print_estimate(hours)
        kept = [line for line in lines if line["kind"] != "estimate"]
        summary = next(line for line in lines if line["kind"] == "estimate")
        summary = {key: value for key, value in summary.items() if not key.endswith("_hours")}
        args.estimate.write_text("".join(json.dumps(line) + "\n" for line in (*kept, {**summary, **{
            f"{name}_hours": value for name, value in hours.items()}})))
        return
    out = args.out or results_file("train-speed")
    started = time.time()
    header = {"kind": "provenance", **provenance(), "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
              "batch": args.batch, "steps": args.steps, "load_at_start": list(os.getloadavg())}
    print(f"Train step, batch {args.batch}, {args.steps} interleaved steps; {header['backend']}, {device_name()}; "
          f"cpu {header['cpu']}")
    rows = []
    for model in args.models.split(","):
        for width in args.widths.split(","):
            study = width == "study"
            found = measure(model, STUDY_WIDTHS[model] if study else float(width),
                            networks_to_time(records, model, candidates=study), args.batch, args.steps)
            print_rows(found)
            rows += found
    hours = estimate_hours(records, rows, args.batch)
    print_estimate(hours)
    summary = {"kind": "estimate", **{f"{name}_hours": value for name, value in hours.items()},
               "seconds": round(time.time() - started, 1), "load_at_end": list(os.getloadavg())}
    out.write_text("".join(json.dumps(line) + "\n" for line in (header, *({"kind": "step", **row} for row in rows), summary)))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
