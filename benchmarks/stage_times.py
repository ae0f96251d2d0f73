"""Where a split network loses time on the engine: each of its stages timed alone beside the unsplit network's.

For every group of networks in ``benchmarks/inference.py``'s results (one model, width, input size, precision
and thread count) in which a split network is slower than its unsplit network beyond the spread of the runs, or
misses the target at full width (:func:`netsplit.study.inference.explained`), the unsplit network and each such
split network are built again,
and every stage (a block with the layer that closes it) is exported alone at the group's input size and
precision, a split block in each lowering, and timed on the group's threads, all interleaved in one process.
Each record is one stage in one form, with ``chosen`` set for the form the network was exported in. Run it on
a quiet machine, never beside training.

    python benchmarks/stage_times.py --results results/inference-cpu.jsonl --out results/stage-times-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    from netsplit.export import stage_times
    from netsplit.runtime import provenance
    from netsplit.study.inference import COMPARED, explained, latency_ratios, network_named, read_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/inference-cpu.jsonl", help="benchmarks/inference.py's output")
    parser.add_argument("--runs", type=int, default=200, help="invocations of each stage in each form")
    parser.add_argument("--out", default="results/stage-times-cpu.jsonl")
    args = parser.parse_args()
    ratios = latency_ratios(read_results(args.results))
    cases = explained(ratios[ratios["engine"] == "litert-xnnpack"])
    if cases.empty:
        print(f"{args.results}: no split network slower than its unsplit network or missing the target")
        return
    stamp, out = provenance(), Path(args.out)
    partial = out.with_suffix(".partial")
    with partial.open("w") as sink:
        for group, rows in cases.groupby(COMPARED):
            where = dict(zip(COMPARED, group))
            model_name, width = where["model"], where["width_multiplier"]
            labels = ["baseline", *rows["network"]]
            models = {label: network_named(model_name, label).build(model_name, width_multiplier=width,
                                                                   input_shape=(32, 32, 3)) for label in labels}
            times = stage_times(models, where["precision"], where["input_size"], where["threads"], args.runs)
            lowerings = dict(zip(rows["network"], rows["chosen_lowering"]))
            for label, stages in times.items():
                chosen = lowerings.get(label, {})
                for stage, forms in stages.items():
                    exported = chosen.get(stage, chosen.get("every block", "unsplit")) if len(forms) > 1 else "unsplit"
                    for form, ms in forms.items():
                        sink.write(json.dumps({"kind": "stage", **where, "network": label, "stage": stage, "form": form,
                                               "median_ms": ms, "chosen": form == exported, "runs": args.runs,
                                               "load_1min": os.getloadavg()[0], **stamp}) + "\n")
                print(f"{model_name} x{width:g} {where['input_size']}px {where['precision']} {where['threads']}t "
                      f"{label:>10}: " + ", ".join(f"{stage} {min(forms.values()) * 1e3:.1f} µs"
                                                   for stage, forms in stages.items()), flush=True)
    partial.replace(out)


if __name__ == "__main__":
    main()
