"""Measured peak activation memory, original against split, layer by layer and branch by branch.

Each measurement runs in a fresh process so that nothing cached by an earlier one counts. The input
image is created inside the measured window, weights before it, so the figure is activations only.

- TensorFlow on CPU: the BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC=true``) keeps peak statistics.
- PyTorch on a GPU (``--backend torch``): ``torch.cuda.max_memory_allocated`` after a reset, with
  cuDNN switched off so that convolution workspace cannot inflate the peak; latency is timed with
  cuDNN on.

Each line appended to ``--out`` (JSONL) holds: model, split, input size, execution order, measured
bytes, the analysis' bytes, their ratio, seconds per forward (the median of ``--repeats`` timed passes,
with every pass in ``seconds_repeats``), backend, device, versions and git commit.

    python benchmarks/memory.py --sizes 256,512 --out results/memory-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from netsplit.records import read_lines
from netsplit.study.chapters import MEMORY_NETWORKS

EXECUTIONS = ("layer by layer", "branch by branch")


def measure_here(model_name: str, split: str, size: int, execution: str, repeats: int = 5) -> dict:
    """One measurement in this process (the backend is already chosen by the environment)."""
    import keras
    import numpy as np

    from netsplit.branchwise import predict_branchwise
    from netsplit.complexity import analyse, total
    from netsplit.models import split_model
    from netsplit.runtime import provenance

    backend = keras.backend.backend()
    factors = tuple(int(f) for f in split.split(","))
    model = split_model(model_name, factors, input_shape=(size, size, 3), implementation="branches")
    branchwise = execution == "branch by branch"
    image = np.random.default_rng(0).normal(size=(1, size, size, 3)).astype("float32")

    def forward():
        if branchwise:
            return predict_branchwise(model, image)
        return keras.ops.convert_to_numpy(model(image, training=False))

    forward()  # warm up: kernels chosen, caches filled
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        forward()
        peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
    elif backend == "torch":
        import torch

        torch.backends.cudnn.enabled = False
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        forward()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        torch.backends.cudnn.enabled = True
        forward()
    else:
        raise SystemExit(f"no honest peak-memory statistics on the {backend} backend here")
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward()
        timings.append(time.perf_counter() - start)
    cost = total(analyse(model))
    predicted = cost.memory_branchwise if branchwise else cost.memory_layerwise
    return {
        "model": model_name, "split": split, "input_size": size, "execution": execution,
        "measured_bytes": int(peak), "analysis_bytes": int(predicted), "ratio": round(peak / predicted, 3),
        "seconds": round(float(np.median(timings)), 4), "seconds_repeats": [round(t, 4) for t in timings],
        **provenance(),
    }


def measure(model_name: str, split: str, size: int, execution: str, backend: str, repeats: int = 5) -> dict:
    """Run :func:`measure_here` in a fresh process and return its result."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPU_ALLOCATOR_USE_BFC": "true"}
    code = ("import json, sys; from benchmarks.memory import measure_here; "
            "print(json.dumps(measure_here(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))))")
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", code, model_name, split, str(size), execution, str(repeats)],
                         cwd=root, env=env, capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise RuntimeError(run.stderr.strip().splitlines()[-1])
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet18")
    parser.add_argument("--sizes", default="256,512,1024,2048")
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "torch"])
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes per measurement")
    parser.add_argument("--out", default="results/memory-cpu.jsonl")
    args = parser.parse_args()
    out = Path(args.out)
    rows = read_lines(out) if out.exists() else []
    done = {(row["model"], row["split"], row["input_size"], row["execution"]) for row in rows}
    print(f"{'model':>8} {'network':>10} {'size':>5} {'execution':>16} {'measured MiB':>12} "
          f"{'analysis MiB':>12} {'ratio':>6} {'s/forward':>9}", flush=True)
    for model_name in args.models.split(","):
        for size in map(int, args.sizes.split(",")):
            for name, factors in MEMORY_NETWORKS.items():
                split = ",".join(map(str, factors))
                for execution in EXECUTIONS:
                    if (model_name, split, size, execution) in done:
                        continue
                    row = measure(model_name, split, size, execution, args.backend, args.repeats)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with open(out, "a") as stream:
                        stream.write(json.dumps(row) + "\n")
                    print(f"{model_name:>8} {name:>10} {size:>5} {execution:>16} "
                          f"{row['measured_bytes'] / 2**20:>12.1f} {row['analysis_bytes'] / 2**20:>12.1f} "
                          f"{row['ratio']:>6.2f} {row['seconds']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
