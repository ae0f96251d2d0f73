"""Mixed bfloat16 training beside float32 on this CPU: train-step time, and with --train the test accuracy
of one study network (VGG16 at width 1/4, unsplit, seed 0, the cpu profile's training) against its
float32 records.

Both precisions' networks live in one process (a layer takes the dtype policy in force when it is made),
so their steps interleave and machine noise hits both alike.

    python -m benchmarks.precision [--out results/precision-<backend>-<cpu>.jsonl]           # step times
    python -m benchmarks.precision --train [--out ...]   # then, in the background: one network, added to the file
"""

from __future__ import annotations

import argparse
import json
import statistics
from functools import partial
from pathlib import Path

import keras

from benchmarks.train_steps import compiled, random_batch, results_file, step_times
from netsplit.runtime import provenance
from netsplit.study.chapters import STUDY_WIDTHS, study_records

SPLITS = {"baseline": None, "proposed_I": (8, 2, 2, 4, 4)}
PRECISIONS = ("float32", "mixed_bfloat16")
INPUT_SHAPE = (32, 32, 1)


def time_steps(batch: int, steps: int) -> dict[tuple[str, str], float]:
    """Median train-step ms of VGG16 at the study width, unsplit and proposed_I, in each precision."""
    built = {}
    for precision in PRECISIONS:
        keras.config.set_dtype_policy(precision)
        for name, split in SPLITS.items():
            built[name, precision] = compiled("vgg16", split, STUDY_WIDTHS["vgg16"], INPUT_SHAPE)
    keras.config.set_dtype_policy("float32")
    x, y = random_batch(batch, INPUT_SHAPE)
    return {key: 1000 * statistics.median(values) for key, values in step_times(built, x, y, steps).items()}


def train_bfloat16() -> dict:
    """VGG16 at width 1/4, unsplit, trained as the cpu profile trains its comparison networks, in mixed bfloat16."""
    from netsplit.data import load_dataset
    from netsplit.models import split_model
    from netsplit.train import TrainConfig, train_network

    float32 = [r for r in study_records() if r.model == "vgg16" and r.experiment == "baseline"]
    reference = float32[0]
    data = load_dataset("fashion_mnist", validation_size=reference.validation_size)
    build = partial(split_model, "vgg16", None, data.input_shape, width_multiplier=STUDY_WIDTHS["vgg16"])
    config = TrainConfig(epochs=reference.epochs, batch_size=128, learning_rate=0.05, mixed_precision=True)
    _, record = train_network(build, data, config, seed=reference.seed, experiment="precision", config_hash="-",
                              model="vgg16", variant="proposed", split=[1] * 5, width_multiplier=STUDY_WIDTHS["vgg16"])
    return {"precision": "mixed_bfloat16", "accuracy": record.accuracy, "train_seconds": record.train_seconds,
            "float32_accuracies": [r.accuracy for r in float32], "float32_seconds": [r.train_seconds for r in float32]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--train", action="store_true", help="train one network in mixed bfloat16 (minutes) instead")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or results_file("precision")
    if args.train:  # minutes of training: run it apart from the timing, which wants a quiet machine
        trained = train_bfloat16()
        print(f"test accuracy: mixed bfloat16 {100 * trained['accuracy']:.2f} %, float32 records "
              + ", ".join(f"{100 * a:.2f}" for a in trained["float32_accuracies"]) + " %")
        with out.open("a") as handle:
            handle.write(json.dumps({"kind": "train", **provenance(), **trained}) + "\n")
    else:
        lines = [{"kind": "provenance", **provenance(), "batch": args.batch, "steps": args.steps}]
        ms = time_steps(args.batch, args.steps)
        for name in SPLITS:
            ratio = ms[name, "mixed_bfloat16"] / ms[name, "float32"]
            print(f"VGG16 w {STUDY_WIDTHS['vgg16']} {name:<11} float32 {ms[name, 'float32']:.1f} ms, mixed bfloat16 "
                  f"{ms[name, 'mixed_bfloat16']:.1f} ms: {ratio:.2f}x", flush=True)
            lines.append({"kind": "step", "network": name, **{f"ms_{p}": ms[name, p] for p in PRECISIONS},
                          "ratio": ratio})
        out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
