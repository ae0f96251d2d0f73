"""Memory on an inference engine: the peak a LiteRT process holds, unsplit against split, as exported.

The unsplit network and the 8,2,2,4,4 split (proposed_I on VGG16) are exported at the study widths
(VGG16 1/4, ResNet18 1/8), the split one as grouped convolutions and branch by branch (each branch
pooled before the next begins, ``lowering="branchwise"``). Each runs once at each input size in a fresh
process, on the XNNPACK delegate (LiteRT's default) and on LiteRT's own kernels, whose tensors its arena
planner lays out in graph order. The figure is the process's peak resident memory (VmHWM) after
loading, allocating and one invocation, less its resident memory once the engine's library is imported
and before the model is loaded: weights, activations and the engine's workspace. Beside it, the median of
three further invocations says what the order of execution costs in time; memory does not depend on the
machine's load, time does, so run it on a quiet machine.

    python benchmarks/engine_memory.py --sizes 256,512,1024,2048 --out results/engine-memory-cpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPLIT = (8, 2, 2, 4, 4)
EXPORTS = {"unsplit": (None, "grouped"), "split, grouped": (SPLIT, "grouped"), "split, branchwise": (SPLIT, "branchwise")}
"""The exported networks: their split and lowering, by name."""


def peak_here(path: str, size: int, kernels: str) -> dict:
    """Load, allocate and invoke one exported model in this process; its memory before and at the peak."""
    import numpy as np

    from netsplit.export import interpreter, interpreter_engine, process_memory, time_invokes

    interpreter_engine()  # imports the engine: its library is not the model's memory
    before = process_memory()
    engine = interpreter(path, 1, size, kernels)
    engine.set_tensor(engine.get_input_details()[0]["index"], np.zeros((1, size, size, 3), "float32"))
    engine.invoke()
    after = process_memory()
    seconds = sorted(time_invokes(engine, 3))  # what the order of execution costs in time, once the memory is read
    return {"rss_before": before["VmRSS"], "peak": after["VmHWM"], "peak_mib": (after["VmHWM"] - before["VmRSS"]) / 2**20,
            "invoke_ms": seconds[1] * 1e3}


def _in_fresh_process(path: str, size: int, kernels: str) -> dict:
    code = ("import json, sys; from benchmarks.engine_memory import peak_here; "
            "print(json.dumps(peak_here(sys.argv[1], int(sys.argv[2]), sys.argv[3])))")
    run = subprocess.run([sys.executable, "-c", code, path, str(size), kernels], cwd=ROOT, capture_output=True,
                         text=True, timeout=3600)
    if run.returncode:
        raise RuntimeError(f"{path} at {size} px on {kernels} failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    from netsplit.export import KERNELS, export
    from netsplit.models import split_model
    from netsplit.runtime import provenance
    from netsplit.study.chapters import STUDY_WIDTHS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet18")
    parser.add_argument("--sizes", default="256,512,1024,2048")
    parser.add_argument("--out", default="results/engine-memory-cpu.jsonl")
    args = parser.parse_args()
    stamp = provenance()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, out.open("a") as sink:
        for model_name in args.models.split(","):
            width = STUDY_WIDTHS[model_name]
            for size in (int(s) for s in args.sizes.split(",")):
                for name, (split, lowering) in EXPORTS.items():
                    model = split_model(model_name, split, width_multiplier=width, implementation="branches")
                    path = export(model, Path(folder) / f"{model_name}-{size}-{lowering}-{bool(split)}.tflite",
                                  input_size=size, lowering=lowering)
                    for kernels in KERNELS:
                        row = {"model": model_name, "width_multiplier": width, "network": name,
                               "split": list(split or (1,) * 5), "lowering": lowering, "input size": size,
                               "kernels": kernels, **_in_fresh_process(str(path), size, kernels), **stamp}
                        sink.write(json.dumps(row) + "\n")
                        sink.flush()
                        print(f"{model_name} {size} px {name:<18} {kernels:<8} {row['peak_mib']:8.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
