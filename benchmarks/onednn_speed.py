"""Train-step time with TensorFlow's oneDNN kernels off and on, for unsplit and split networks.

TensorFlow chooses its CPU kernels when it starts, so each setting runs in a fresh process; the two
settings alternate for ``--rounds`` rounds, so that machine noise hits both alike. The table shows
median step times and the speed-up (off / on). ``make reproduce`` turns oneDNN on (``ONEDNN=1``)
because of what this measures.

    python -m benchmarks.onednn_speed [--model resnet18] [--width 0.125] [--splits 1,1,1,1,1 4,1,1,1,1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUT_SHAPE = (32, 32, 1)
SPLITS = ("1,1,1,1,1", "4,1,1,1,1", "1,2,1,1,1", "1,1,4,1,1")


def split_times(model: str, width: float, splits: list[str], batch: int, steps: int) -> dict:
    """Seconds per training step of each split (Fashion-MNIST-shaped input), and the device."""
    # Imported here, in the child, so that the parent process never loads TensorFlow.
    from benchmarks.train_steps import compiled, random_batch, step_times
    from netsplit.runtime import device_name

    x, y = random_batch(batch, INPUT_SHAPE)
    networks = {split: compiled(model, tuple(map(int, split.split(","))), width, INPUT_SHAPE) for split in splits}
    return {"device": device_name(), "times": step_times(networks, x, y, steps)}


def run_child(args: argparse.Namespace, onednn: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.onednn_speed", "--child", "--model", args.model,
               "--width", str(args.width), "--batch", str(args.batch), "--steps", str(args.steps), "--splits", *args.splits]
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(run.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), help="factor per block, e.g. 4,1,1,1,1")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(split_times(args.model, args.width, args.splits, args.batch, args.steps)))
        return
    times: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
    devices = {}
    for _ in range(args.rounds):
        for setting, flag in (("off", "0"), ("on", "1")):
            result = run_child(args, flag)
            devices[setting] = result["device"]
            for split, values in result["times"].items():
                times[setting].setdefault(split, []).extend(values)
    print(f"{args.model} width {args.width:g} train step, batch {args.batch}, {args.steps} steps x {args.rounds} "
          f"alternating rounds per setting; off: {devices['off']}; on: {devices['on']}")
    print(f"{'split':>10} {'off ms':>8} {'on ms':>8} {'speed-up':>9}")
    for split in args.splits:
        off, on = (1000 * statistics.median(times[s][split]) for s in ("off", "on"))
        print(f"{split:>10} {off:>8.1f} {on:>8.1f} {off / on:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
