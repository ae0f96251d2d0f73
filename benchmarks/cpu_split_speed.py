"""Train-step time of split VGG16 (8,2,2,4,4) against unsplit VGG16 on this machine, beside their MACs.

Steps of the two networks are interleaved so that machine noise hits both alike; the table shows
median step times and ratios. Target: time ratio within 1.2x of the MACs ratio (splitting should
make training cheaper in proportion to the arithmetic it removes).

    python -m benchmarks.cpu_split_speed [--widths 0.25,1] [--batch 128] [--steps 10] [--implementation branches]
"""

from __future__ import annotations

import argparse
import statistics

import keras

from benchmarks.train_steps import compiled, random_batch, step_times
from netsplit.complexity import analyse, total
from netsplit.runtime import device_name

SPLIT = (8, 2, 2, 4, 4)
INPUT_SHAPE = (32, 32, 3)


def measure(width: float, batch: int, steps: int, implementation: str) -> dict:
    x, y = random_batch(batch, INPUT_SHAPE)
    models = {"unsplit": compiled("vgg16", None, width, INPUT_SHAPE),
              "split": compiled("vgg16", SPLIT, width, INPUT_SHAPE, implementation)}
    times = step_times(models, x, y, steps)
    medians = {name: statistics.median(values) for name, values in times.items()}
    macs = {name: total(analyse(model)).macs for name, model in models.items()}
    time_ratio = medians["split"] / medians["unsplit"]
    macs_ratio = macs["split"] / macs["unsplit"]
    return {
        "width": width, "implementation": models["split"].get_layer("block1").implementation,
        "unsplit_ms": 1000 * medians["unsplit"], "split_ms": 1000 * medians["split"],
        "macs_ratio": macs_ratio, "time_ratio": time_ratio, "time_over_macs": time_ratio / macs_ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="0.25,1")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--implementation", default="branches", choices=["branches", "grouped"])
    args = parser.parse_args()
    print(f"VGG16 train step, split {SPLIT} vs unsplit; batch {args.batch}, {args.steps} interleaved steps; "
          f"backend {keras.backend.backend()}, {device_name()}")
    print(f"{'width':>6} {'impl':>9} {'unsplit ms':>11} {'split ms':>9} {'MACs ratio':>11} {'time ratio':>11} "
          f"{'time/MACs':>10}  target <= 1.2")
    for width in (float(w) for w in args.widths.split(",")):
        row = measure(width, args.batch, args.steps, args.implementation)
        verdict = "met" if row["time_over_macs"] <= 1.2 else "NOT met"
        print(f"{row['width']:>6} {row['implementation']:>9} {row['unsplit_ms']:>11.1f} {row['split_ms']:>9.1f} "
              f"{row['macs_ratio']:>11.2f} {row['time_ratio']:>11.2f} {row['time_over_macs']:>10.2f}  {verdict}",
              flush=True)


if __name__ == "__main__":
    main()
