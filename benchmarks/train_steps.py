"""What the train-step benchmarks share: a random batch, a network compiled as for training, and
median-ready step times taken after warm-up, interleaved so that machine noise hits every network alike."""

from __future__ import annotations

import re
import time
from pathlib import Path

import keras
import numpy as np

from netsplit.implementations import timed_choices
from netsplit.models import split_model
from netsplit.runtime import cpu_details
from netsplit.train import jit_compile


ROOT = Path(__file__).resolve().parent.parent


def results_file(kind: str) -> Path:
    """results/<kind>-<backend>-<cpu model>.jsonl: one file per benchmark, backend and processor."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(cpu_details()["model"]).lower()).strip("-")
    return ROOT / "results" / f"{kind}-{keras.backend.backend()}-{slug}.jsonl"


def random_batch(batch: int, input_shape: tuple[int, int, int], classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` random images of ``input_shape`` and one-hot labels, the same on every call."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, *input_shape)).astype("float32")
    return x, np.eye(classes, dtype="float32")[rng.integers(0, classes, batch)]


def compile_for_training(network: keras.Model) -> keras.Model:
    """``network`` compiled with SGD and cross-entropy, as the trainer compiles it."""
    network.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                    loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=jit_compile())
    return network


def compiled(model: str, split: tuple[int, ...] | None, width: float, input_shape: tuple[int, int, int],
             implementation: str = "auto") -> keras.Model:
    """``model`` split by ``split``, compiled for training (its "auto" blocks in the forms that train fastest here)."""
    with timed_choices():
        network = split_model(model, split, input_shape, width_multiplier=width, implementation=implementation)
    return compile_for_training(network)


def step_times(networks: dict, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, list[float]]:
    """Seconds of each of ``steps`` training steps per network, after two warm-up steps each."""
    for network in networks.values():
        network.train_on_batch(x, y)
        network.train_on_batch(x, y)
    times = {name: [] for name in networks}
    for _ in range(steps):
        for name, network in networks.items():
            start = time.perf_counter()
            network.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)
    return times
