"""The train step a plain Keras user gets: ``split_model(...)``, ``compile()``, ``fit()``, on a machine
that has timed nothing (an empty form cache), split against unsplit.

Each split network is built twice, as a user builds it (``implementation="auto"``: outside ``netsplit``'s own
training, the cost model picks each block's form) and with one convolution per branch (what "auto" gave before
the cost model); every step of every network interleaved, medians compared:

    python -m benchmarks.keras_path [--steps 12] [--out results/keras-path-<backend>-<cpu>.jsonl]

Target: the plain path's split step no slower than the unsplit one (ratio <= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.train_steps import compile_for_training, random_batch, results_file, step_times
from netsplit.complexity import analyse, total
from netsplit.models import split_model
from netsplit.runtime import provenance

CASES = {"vgg16": ((8, 2, 2, 4, 4), 0.25), "resnet18": ((8, 4, 1, 2, 8), 0.125)}
"""The networks timed: the paper's proposed_I at the study's VGG16 width, a ResNet18 split at its width."""
INPUT_SHAPE = (32, 32, 1)


def plain(model: str, split: tuple[int, ...] | None, width: float, implementation: str = "auto"):
    """The network as ``split_model`` builds it for a user, compiled as the study compiles it."""
    return compile_for_training(split_model(model, split, INPUT_SHAPE, width_multiplier=width,
                                            implementation=implementation))


def main(steps: int, batch: int, out: Path | None) -> None:
    os.environ["NETSPLIT_IMPLEMENTATION_CACHE"] = str(Path(tempfile.mkdtemp()) / "empty.json")  # a fresh machine
    x, y = random_batch(batch, INPUT_SHAPE)
    out = out or results_file("keras-path")
    with out.open("a") as handle:
        handle.write(json.dumps({"kind": "provenance", **provenance(), "batch": batch, "steps": steps}) + "\n")
        for model, (split, width) in CASES.items():
            networks = {"unsplit": plain(model, None, width), "auto": plain(model, split, width),
                        "branches": plain(model, split, width, "branches")}
            forms = [layer.implementation for layer in networks["auto"].layers if hasattr(layer, "implementation")]
            times = step_times(networks, x, y, steps)
            ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
            macs = total(analyse(networks["auto"])).macs / total(analyse(networks["unsplit"])).macs
            row = {"kind": "step", "model": model, "split": list(split), "width": width, "forms": forms,
                   "load_1min": os.getloadavg()[0],
                   "ms": ms, "steps_ms": {k: [round(1000 * t, 2) for t in v] for k, v in times.items()},
                   "ratio_auto": ms["auto"] / ms["unsplit"], "ratio_branches": ms["branches"] / ms["unsplit"],
                   "macs_ratio": macs}
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            print(f"{model} {','.join(map(str, split))} x{width:g}: auto ({','.join(forms)}) "
                  f"{row['ratio_auto']:.2f}, branches {row['ratio_branches']:.2f} of the unsplit step "
                  f"({ms['unsplit']:.1f} ms); MACs {macs:.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    main(args.steps, args.batch, args.out)
