"""Train-step time of split VGG16 (8,2,2,4,4) against unsplit VGG16 on this machine, beside their MACs.

Steps of the two networks are interleaved so that machine noise hits both alike; the table shows
median step times and ratios. Target: time ratio within 1.2x of the MACs ratio (splitting should
make training cheaper in proportion to the arithmetic it removes).

    python benchmarks/cpu_split_speed.py [--widths 0.25,1] [--batch 128] [--steps 10] [--implementation branches]
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from netsplit.complexity import analyse, total
from netsplit.models import split_model
from netsplit.runtime import device_name
from netsplit.train import jit_compile

SPLIT = (8, 2, 2, 4, 4)


def compiled(split: str | None, width: float, implementation: str) -> keras.Model:
    model = split_model("vgg16", split, width_multiplier=width, implementation=implementation)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile(),
    )
    return model


def measure(width: float, batch: int, steps: int, implementation: str) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, batch)]
    models = {"unsplit": compiled(None, width, "branches"), "split": compiled(SPLIT, width, implementation)}
    for model in models.values():  # compile and warm up
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
    times = {name: [] for name in models}
    for _ in range(steps):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)
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
