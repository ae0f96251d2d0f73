"""Inference on LiteRT (XNNPACK, CPU): latency against MACs, file size, process memory, int8 accuracy.

The paper's networks (baseline, proposed_I and II, naive and shared split; VGG16 and ResNet18), and the
unsplit network thinned to the MACs of each split the study controls, are exported with
:mod:`netsplit.export` and timed at batch 1:

- lowering: each split block in the form this engine runs fastest, timed block by block at each input
  size, precision and thread count (``--lowering measured``, the default; float16 weights run in
  float32 on XNNPACK and take float32's choice), or one form for all (``--lowering grouped`` ...).
- widths and precisions: each model at the width its study trains (``study``) and at full width, in
  float32, with float16 weights and in int8, at every ``--sizes``.
- latency: each group of networks (one model, width and input size) runs in one fresh process that
  imports no TensorFlow; all networks, precisions and thread counts are warmed up, then timed in
  interleaved, shuffled rounds, so that machine noise hits all alike. Larger inputs resize the exported
  model's input (the networks are fully convolutional). A group timed while disturbed
  (:func:`netsplit.study.inference.disturbed`) is timed once more, and its records say whether it was still.
- TensorFlow (a ``tf.function`` of the model) on the same networks at 32x32, interleaved the same way.
- bound: the engine's own peak multiply-accumulate rate, the best of large 3x3 convolutions exported and
  timed like the networks, in float32 and int8 on each thread count; the memory bandwidth, the best
  copy of a large array in numpy. A network's bound is the longer of its MACs at the peak and its
  file's bytes at the bandwidth.
- size: the exported file per precision (int8 calibrated on random images: sizes and latency do not
  depend on the calibration data).
- memory: each network in a fresh process; VmRSS before loading, VmHWM (peak resident set) after
  loading and allocating, and after the first invocation (Linux /proc/self/status).
- layer: one 3x3 convolution of 64 channels as 1, 4 and 8 groups, its multiply-accumulate rate.
- accuracy: the baseline and proposed_I trained briefly on Fashion-MNIST (narrow, a few epochs) and
  evaluated on the full test set in Keras and exported at each precision.

Every line of ``--out`` is one JSON record with a ``kind``; the first (``run``) holds provenance, the CPU's
model, instruction-set flags, clock and cores among it. Run it on a quiet machine, never beside training.

    python benchmarks/inference.py                      # about 75 minutes on 2 cores
    python benchmarks/inference.py --quick --out /tmp/inference.jsonl
    python benchmarks/inference.py --models resnet18 --widths 1 --parts peak,latency   # added to the file
    python benchmarks/inference.py --kernels builtin --lowering branchwise --out results/inference-cpu-builtin.jsonl
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from netsplit.export import (
    engine_versions,
    interpreter,
    interpreter_engine,
    process_memory,
    time_invokes,
)

ROOT = Path(__file__).resolve().parent.parent
PRECISIONS = ("float32", "float16", "int8")
PARTS = ("peak", "latency", "layers", "accuracy")
"""What a run measures (``--parts``); a run of some parts adds its records to a file that holds the others'."""


def _in_fresh_process(function: str, *arguments, env: dict | None = None) -> object:
    """Call ``benchmarks.inference.<function>(*arguments)`` in a new Python process; return its JSON result."""
    code = (f"import json, sys; from benchmarks.inference import {function}; "
            f"print(json.dumps({function}(*json.loads(sys.argv[1]))))")
    run = subprocess.run([sys.executable, "-c", code, json.dumps(arguments)], cwd=ROOT,
                         env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise RuntimeError(f"{function} failed: {run.stderr.strip()[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def bandwidth_here(megabytes: int, repeats: int) -> float:
    """Best bytes per second moved by copying a ``megabytes`` array in numpy (each byte read once, written once)."""
    source = np.ones(megabytes * 2**20, np.uint8)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best


def time_group(entries: list[list], input_size: int, rounds: int, runs: int, warmup: int,
               kernels: str = "xnnpack", channels: int = 3) -> list[dict]:
    """Latency of several exported models, each ``[name, .tflite path, threads]``, interleaved."""
    image = np.random.default_rng(0).normal(size=(1, input_size, input_size, channels)).astype(np.float32)
    engines = {}
    for name, path, count in entries:
        engine = interpreter(path, count, input_size, kernels)
        engine.set_tensor(engine.get_input_details()[0]["index"], image)
        time_invokes(engine, warmup)
        engines[(name, count)] = engine
    samples = {key: [] for key in engines}
    order = list(engines)
    shuffle = random.Random(0)
    for _ in range(rounds):
        shuffle.shuffle(order)
        for key in order:
            samples[key] += time_invokes(engines[key], runs)
    return [_summary({"name": name, "threads": count}, seconds) for (name, count), seconds in samples.items()]


def _summary(fields: dict, seconds: list[float]) -> dict:
    ms = np.array(seconds) * 1e3
    return {**fields, "median_ms": float(np.median(ms)), "p10_ms": float(np.percentile(ms, 10)),
            "p90_ms": float(np.percentile(ms, 90)), "min_ms": float(ms.min()), "runs": len(ms)}


def memory_here(path: str, input_size: int, threads: int, kernels: str = "xnnpack") -> dict:
    """Resident memory of this process around loading one model and invoking it once (bytes)."""
    before = process_memory()
    engine = interpreter(path, threads, input_size, kernels)
    loaded = process_memory()
    engine.set_tensor(engine.get_input_details()[0]["index"],
                      np.zeros((1, input_size, input_size, 3), np.float32))
    engine.invoke()
    after = process_memory()
    return {"rss_before_load_bytes": before["VmRSS"], "peak_after_load_bytes": loaded["VmHWM"],
            "peak_rss_bytes": after["VmHWM"], "invoke_growth_bytes": after["VmHWM"] - loaded["VmHWM"],
            "engine_peak_bytes": after["VmHWM"] - before["VmRSS"]}


class Benchmark:
    """Runs the measurements and appends each record to the output as soon as it exists."""

    def __init__(self, args: argparse.Namespace, out: Path, folder: Path):
        from netsplit.study.inference import NETWORKS

        self.args, self.out, self.folder = args, out, folder
        self.engine = f"litert-{args.kernels}"
        self.networks = [network for network in NETWORKS if network.name in args.networks]
        self.calibration = np.random.default_rng(1).normal(size=(64, 32, 32, 3)).astype(np.float32)

    def warmup(self, size: int) -> int:
        """Invocations before timing: ``--warmup`` at 32x32, at least one at any size."""
        return max(1, round(self.args.warmup * (32 / size) ** 2))

    def write(self, kind: str, **fields) -> dict:
        record = {"kind": kind, "lowering": self.args.lowering, **fields}
        with open(self.out, "a") as stream:
            stream.write(json.dumps(record) + "\n")
        return record

    def invocations(self, size: int) -> tuple[int, int]:
        """Rounds and invocations per round at ``size``: ``--runs`` at 32x32, fewer in proportion to pixels."""
        invocations = max(self.args.min_runs, round(self.args.runs * (32 / size) ** 2))
        rounds = min(self.args.rounds, invocations)
        return rounds, -(-invocations // rounds)

    def peak(self) -> None:
        """The engine's own best multiply-accumulate rate, per precision and thread count: large 3x3
        convolutions exported and timed like the networks (the best invocation counts)."""
        import keras

        from netsplit.export import export

        for channels, size in self.args.peak_convs:
            inputs = keras.Input((size, size, channels))
            conv = keras.Model(inputs, keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(inputs))
            sample = np.random.default_rng(1).normal(size=(8, size, size, channels)).astype(np.float32)
            entries = [[precision, str(export(conv, self.folder / f"peak-{channels}-{size}-{precision}.tflite", precision,
                                              sample if precision == "int8" else None, lowering="grouped")), threads]
                       for precision in ("float32", "int8") for threads in self.args.threads]
            results = _in_fresh_process("time_group", entries, size, 5, 3, 2, self.args.kernels, channels)
            macs = size * size * 9 * channels * channels
            for result in results:
                rate = macs / result["min_ms"] * 1e3
                self.write("peak", engine=self.engine, precision=result["name"], threads=result["threads"],
                           macs_per_second=rate, load_1min=os.getloadavg()[0],
                           method=f"LiteRT 3x3 convolution, {channels} channels at {size}x{size}, best of {result['runs']}")
                print(f"peak {result['name']:>7} {result['threads']}t, {channels} channels at {size}px: "
                      f"{rate / 1e9:.1f} GMAC/s", flush=True)
        rate = _in_fresh_process("bandwidth_here", self.args.bandwidth_mib, 5)
        self.write("bandwidth", bytes_per_second=rate, method=f"numpy copy of {self.args.bandwidth_mib} MiB, best of 5")
        print(f"memory bandwidth: {rate / 1e9:.1f} GB/s", flush=True)

    def candidates(self, model_name: str, width: float) -> list:
        """The timed networks at ``width``, with each study control's unsplit network thinned to its MACs."""
        from netsplit.study.chapters import thin_controls

        controls = thin_controls(model_name, self.networks, width, (32, 32, 3))
        return self.networks + [control for control in controls if control.name.startswith("thin: MACs")]

    def lowering(self, model, precision: str, size: int, threads: int):
        """The lowering asked for; with ``measured``, each block's form timed fastest at this size, precision and
        thread count (float16 weights run in float32 on this engine, so they take float32's choice)."""
        from netsplit.export import measured_lowerings

        if self.args.lowering != "measured":
            return self.args.lowering
        timed = "float32" if precision == "float16" else precision
        return measured_lowerings(model, timed, size, threads, self.args.lowering_runs)

    def export_group(self, model_name: str, width: float, sizes: list[int]) -> dict:
        """Export every network at one width in every precision; returns ``(network, precision, size, threads) ->
        (path, model, lowering)``, one file per distinct lowering."""
        from netsplit.export import export

        exported, files = {}, {}
        for network in self.candidates(model_name, width):
            model = network.build(model_name, width_multiplier=width, input_shape=(32, 32, 3))
            for precision in PRECISIONS:
                for size in sizes:
                    for threads in self.args.threads:
                        lowering = self.lowering(model, precision, size, threads)
                        key = (network.name, precision, json.dumps(lowering, sort_keys=True))
                        if key not in files:
                            path = self.folder / f"{model_name}-{width:g}-{network.name}-{precision}-{len(files)}.tflite"
                            files[key] = export(model, path.with_name(path.name.replace(" ", "_").replace(":", "")),
                                                precision, self.calibration if precision == "int8" else None,
                                                lowering=lowering)
                            if len([k for k in files if k[:2] == key[:2]]) == 1:
                                self.write("size", model=model_name, network=network.name, width_multiplier=width,
                                           precision=precision, bytes=files[key].stat().st_size)
                        exported[(network.name, precision, size, threads)] = (files[key], model, lowering)
        return exported

    def latency(self, model_name: str, width: float, exported: dict, sizes: list[int]) -> None:
        """Time each size's networks in one fresh process, interleaved; if some networks compared with each other
        were disturbed (:func:`~netsplit.study.inference.mark_disturbed`), all are timed once more, and the records
        say which were still."""
        import pandas as pd

        from netsplit.complexity import analyse, total
        from netsplit.study.inference import mark_disturbed

        for size in sizes:
            entries = [[f"{name}|{precision}", str(path), threads]
                       for (name, precision, at, threads), (path, _, _) in exported.items() if at == size]
            for attempt in (1, 2):
                load = os.getloadavg()[0]
                results = _in_fresh_process("time_group", entries, size, *self.invocations(size), self.warmup(size),
                                            self.args.kernels)
                rows = [{"engine": self.engine, "model": model_name, "network": name, "width_multiplier": width,
                         "input_size": size, "precision": precision, "load_1min": load, **result}
                        for result in results for name, precision in [result.pop("name").split("|")]]
                still = mark_disturbed(pd.DataFrame(rows), os.cpu_count())
                if not still.any() or attempt == 2:
                    break
                print(f"{model_name} x{width:g} {size}px: disturbed (load {load:.1f}), timed again", flush=True)
            for row, disturbed in zip(rows, still):
                path, model, lowering = exported[(row["network"], row["precision"], size, row["threads"])]
                cost = total(analyse(model, size))
                self.write("latency", **row, macs=cost.macs, params=cost.params, bytes=path.stat().st_size,
                           disturbed=bool(disturbed), attempt=attempt,
                           chosen_lowering=lowering if isinstance(lowering, dict) else {"every block": lowering})
            self.print_ratios([self.engine], model_name, width, size)

    def print_ratios(self, engines: list[str], model_name: str, width: float, size: int) -> None:
        """Each split network's latency and MACs over the baseline's, as just measured."""
        from netsplit.study.inference import latency_ratios, read_results

        table = latency_ratios(read_results(self.out))
        rows = table.query("engine in @engines and model == @model_name and width_multiplier == @width "
                           "and input_size == @size and network != 'baseline'").to_dict("records")
        for row in rows:
            print(f"{row['engine']:>14} {model_name:>8} x{width:<5g} {size:>4}px {row['precision']:>7} "
                  f"{row['threads']}t {row['network']:>13}: {row['median_ms']:8.2f} ms, latency ratio "
                  f"{row['latency ratio']:.2f}, MACs ratio {row['MACs ratio']:.2f}, time/MACs "
                  f"{row['time / MACs']:.2f}", flush=True)

    def tensorflow(self, model_name: str, width: float, exported: dict) -> None:
        """TensorFlow latency at 32x32, interleaved over the networks (not Keras ``predict``: at batch 1 its fixed
        cost per call is larger than the network)."""
        import tensorflow as tf

        from netsplit.complexity import analyse, total

        image = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
        models = {name: model for (name, precision, _, _), (_, model, _) in exported.items() if precision == "float32"}
        calls = {}
        for name, model in models.items():
            graph = tf.function(lambda x, model=model: model(x, training=False))
            calls[(name, "tensorflow")] = lambda graph=graph: graph(image).numpy()
        for call in calls.values():
            for _ in range(self.args.warmup):
                call()
        samples = {key: [] for key in calls}
        order, shuffle = list(calls), random.Random(0)
        for _ in range(self.args.rounds):
            shuffle.shuffle(order)
            for key in order:
                for _ in range(self.args.tf_runs):
                    start = time.perf_counter()
                    calls[key]()
                    samples[key].append(time.perf_counter() - start)
        for (name, engine), seconds in samples.items():
            cost = total(analyse(models[name], 32))
            self.write("latency", engine=engine, model=model_name, network=name, width_multiplier=width, input_size=32,
                       precision="float32", macs=cost.macs, params=cost.params, load_1min=os.getloadavg()[0],
                       **_summary({"threads": max(self.args.threads)}, seconds))
        self.print_ratios(["tensorflow"], model_name, width, 32)

    def memory(self, model_name: str, exported: dict) -> None:
        """Each float32 network's memory in a fresh process (the file timed at the smallest size)."""
        threads, smallest = max(self.args.threads), min(key[2] for key in exported)
        files = {name: path for (name, precision, size, count), (path, _, _) in exported.items()
                 if precision == "float32" and count == threads and size == smallest}
        for size in self.args.memory_sizes:
            for name, path in files.items():
                result = _in_fresh_process("memory_here", str(path), size, threads, self.args.kernels)
                self.write("memory", model=model_name, network=name, input_size=size, precision="float32",
                           threads=threads, **result)
                print(f"memory {model_name} {name:>13} {size}px: peak {result['peak_rss_bytes'] / 2**20:.0f} MiB, "
                      f"engine {result['engine_peak_bytes'] / 2**20:.0f} MiB", flush=True)

    def layers(self, sizes: list[int]) -> None:
        """One 3x3 convolution of 64 channels as 1, 4 and 8 groups (block 1's second layer in the
        baseline, the naive split and proposed_I): its multiply-accumulate rate at each input size."""
        import keras

        from netsplit.export import export

        entries = []
        for groups in (1, 4, 8):
            inputs = keras.Input((32, 32, 64))
            layer = keras.layers.Conv2D(64, 3, padding="same", groups=groups, use_bias=False)
            path = self.folder / f"conv64-groups{groups}.tflite"
            entries.append([str(groups), str(export(keras.Model(inputs, layer(inputs)), path, lowering="grouped")), 1])
        for size in sizes:
            results = _in_fresh_process("time_group", entries, size, *self.invocations(size), self.warmup(size),
                                        self.args.kernels, 64)
            for result in results:
                groups = int(result.pop("name"))
                macs = size * size * 9 * 64 * 64 // groups
                self.write("layer", engine=self.engine, channels=64, groups=groups, input_size=size, macs=macs,
                           macs_per_second=macs / result["median_ms"] * 1e3, **result)
                print(f"layer 3x3 conv, 64 channels, {groups} group(s), {size}px: "
                      f"{macs / result['median_ms'] / 1e6:.1f} GMAC/s", flush=True)

    def accuracy(self) -> None:
        """Train the first two ``--networks`` (baseline and proposed_I by default; a quick run the first alone)
        briefly on Fashion-MNIST; test accuracy per precision."""
        import keras

        from netsplit.data import load_dataset
        from netsplit.export import accuracy, export
        from netsplit.train import TrainConfig, fit

        a = self.args
        data = load_dataset("fashion_mnist", a.train_size, a.test_size, seed=0, path=a.data_path)
        config = TrainConfig(epochs=a.epochs, batch_size=100, learning_rate=0.05, augment=False, verbose=False)
        for network in self.networks[: 1 if a.quick else 2]:
            build = lambda network=network: network.build(  # noqa: E731
                "vgg16", input_shape=data.input_shape, width_multiplier=a.train_width)
            model, result = fit(build, data, config)
            common = {"model": "vgg16", "network": network.name, "dataset": data.name,
                      "train_size": len(data.x_train), "test_size": len(data.x_test), "epochs": a.epochs,
                      "width_multiplier": a.train_width}
            self.write("accuracy", precision="keras", accuracy=float(result.accuracy), **common)
            for precision in ("float32", "float16", "int8"):
                path = export(model, self.folder / f"trained-{precision}.tflite", precision,
                              data.x_train[: a.calibration_images], lowering="grouped")
                value = accuracy(path, data.x_test, data.y_test, max(a.threads))
                self.write("accuracy", precision=precision, accuracy=value, bytes=path.stat().st_size, **common)
                print(f"accuracy {network.name:>10} {precision:>7}: {value:.2%} (Keras {result.accuracy:.2%})",
                      flush=True)
            keras.backend.clear_session()


def main() -> None:
    from netsplit.study.chapters import STUDY_WIDTHS
    from netsplit.study.inference import NETWORKS  # imports TensorFlow: not at the top, for the timing processes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet18")
    parser.add_argument("--networks", default=",".join(n.name for n in NETWORKS), help="comma-separated")
    parser.add_argument("--widths", default="study,1",
                        help="width multipliers; study: the width each model's study trains at (VGG16 1/4, ResNet18 1/8)")
    parser.add_argument("--sizes", default="32,224", help="input sizes, at every width and precision")
    parser.add_argument("--memory-sizes", default="128,256,512", help="input sizes of the memory measurement (full width)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--runs", type=int, default=200, help="invocations at 32x32, fewer in proportion to pixels")
    parser.add_argument("--min-runs", type=int, default=10, help="invocations at the largest sizes")
    parser.add_argument("--tf-runs", type=int, default=8, help="TensorFlow calls per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-convs", default="256@56,128@112",
                        help="the engine's peak: 3x3 convolutions of CHANNELS@SIZE, comma-separated")
    parser.add_argument("--bandwidth-mib", type=int, default=512, help="array copied to measure memory bandwidth")
    parser.add_argument("--lowering-runs", type=int, default=20, help="invocations per form when a lowering is measured")
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--test-size", type=int, default=None, help="default: the whole test set")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-width", type=float, default=0.125)
    parser.add_argument("--calibration-images", type=int, default=200)
    parser.add_argument("--kernels", default="xnnpack", choices=("xnnpack", "builtin"),
                        help="LiteRT's XNNPACK delegate (its default) or its own kernels")
    parser.add_argument("--lowering", default="measured", choices=("grouped", "masked", "branches", "branchwise", "measured"),
                        help="how split blocks are exported (see netsplit.export.convert); measured: each block in "
                             "the form timed fastest here, at each size, precision and thread count")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    parser.add_argument("--quick", action="store_true", help="a small, fast run that checks the script")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="what to measure, comma-separated: peak (and bandwidth), latency (with TensorFlow and "
                             "memory), layers, accuracy")
    parser.add_argument("--out", default="results/inference-cpu.jsonl")
    args = parser.parse_args()
    if args.quick:
        args.models, args.widths, args.sizes, args.memory_sizes, args.threads = "vgg16", "0.125", "32", "64", "1"
        args.rounds, args.runs, args.min_runs, args.tf_runs, args.warmup = 2, 8, 2, 2, 1
        args.peak_convs, args.bandwidth_mib, args.lowering_runs = "32@32", 16, 2
        args.train_size, args.test_size, args.epochs, args.calibration_images = 300, 200, 1, 50
        args.networks = "baseline,proposed_I,naive split"
    args.parts = args.parts.split(",")
    if set(args.parts) - set(PARTS):
        parser.error(f"unknown part(s) {sorted(set(args.parts) - set(PARTS))}; valid: {', '.join(PARTS)}")
    args.networks = args.networks.split(",")
    unknown = set(args.networks) - {n.name for n in NETWORKS}
    if unknown:
        parser.error(f"unknown network(s) {sorted(unknown)}; valid: {', '.join(n.name for n in NETWORKS)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.memory_sizes = [int(s) for s in args.memory_sizes.split(",")]
    args.peak_convs = [tuple(int(n) for n in conv.split("@")) for conv in args.peak_convs.split(",")]
    sizes = sorted(int(s) for s in args.sizes.split(","))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    start = time.time()
    with tempfile.TemporaryDirectory() as folder:
        bench = Benchmark(args, partial, Path(folder))
        from netsplit.runtime import provenance

        bench.write("run", date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    interpreter=interpreter_engine(), engine_versions=engine_versions(), load_at_start=list(os.getloadavg()), quick=args.quick,
                    cpus=os.cpu_count(), arguments=vars(args), **provenance())
        if "peak" in args.parts:
            bench.peak()
        for model_name in args.models.split(",") if "latency" in args.parts else ():
            widths = sorted({STUDY_WIDTHS[model_name] if w == "study" else float(w) for w in args.widths.split(",")})
            for width in widths:
                exported = bench.export_group(model_name, width, sizes)
                bench.latency(model_name, width, exported, sizes)
                if width == widths[-1]:
                    bench.tensorflow(model_name, width, exported)
                    bench.memory(model_name, exported)
        if "layers" in args.parts:
            bench.layers(sizes)
        if "accuracy" in args.parts:
            bench.accuracy()
        bench.write("end", seconds=round(time.time() - start, 1), load_at_end=list(os.getloadavg()))
    if set(args.parts) == set(PARTS):
        partial.replace(out)
    else:  # some parts: added to what the file holds
        with out.open("a") as sink:
            sink.write(partial.read_text())
        partial.unlink()
    print(f"{out}: {time.time() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
