"""Training: SGD with Nesterov momentum, a warm-up then cosine schedule, weight decay and label
smoothing; mixed precision on a GPU. One call trains one network and returns its figures."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import keras
import numpy as np

from netsplit.complexity import analyse, total
from netsplit.data import AugmentedBatches, Dataset
from netsplit.errors import InputError
from netsplit.implementations import timed_choices
from netsplit.layers import Fusion, SplitBlock
from netsplit.records import RecordStore, RunRecord, pack_correct
from netsplit.runtime import enable_compilation_cache, git_commit, has_accelerator


@dataclass(frozen=True)
class TrainConfig:
    """How a network is trained (defaults follow common CIFAR recipes).

    >>> TrainConfig(epochs=3, learning_rate=0.1).batch_size
    128
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0
    augment: bool = True
    recalibrate_batches: int = 20  # recompute BN statistics from this many batches after training
    mixed_precision: bool | None = None  # None: on when a GPU is used
    verbose: bool = True

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 0 and isinstance(self.epochs, int),
            "batch_size": self.batch_size >= 1 and isinstance(self.batch_size, int),
            "learning_rate": self.learning_rate > 0,
            "weight_decay": self.weight_decay >= 0,
            "label_smoothing": 0 <= self.label_smoothing < 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"training option {name}={getattr(self, name)!r} is not valid")


@dataclass
class TrainResult:
    """Test accuracy and loss (and validation accuracy, if the data has a validation set), per-epoch
    training loss, and where the time went."""

    accuracy: float
    loss: float
    validation_accuracy: float | None = None
    test_correct: np.ndarray | None = None  # per test image: classified correctly
    validation_correct: np.ndarray | None = None
    history: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    first_step_seconds: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    build_seconds: float = 0.0  # building the network, its split blocks' forms chosen (timed where unsure)


class _Progress(keras.callbacks.Callback):
    """Times the first step (compilation included) and reports each epoch on stderr: one line per epoch,
    and on a terminal a line within the epoch that moves as the batches go."""

    def __init__(self, epochs: int, label: str, verbose: bool):
        super().__init__()
        self.epochs, self.label, self.verbose = epochs, label, verbose
        self.live = verbose and sys.stderr.isatty()
        self.start = self.shown = time.perf_counter()
        self.first_step: float | None = None
        self.epoch_ends: list[float] = []

    def _epoch_start(self) -> float:
        return self.epoch_ends[-1] if self.epoch_ends else 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.first_step is None:
            self.first_step = now - self.start
        if self.live and now - self.shown >= 0.5:
            self.shown = now
            seconds = now - self.start - self._epoch_start()
            print(f"\r\033[K  {self.label} epoch {len(self.epoch_ends) + 1}/{self.epochs}: batch {batch + 1}/"
                  f"{self.params['steps']}, loss {logs['loss']:.4f}, {seconds:.0f} s", end="",
                  file=sys.stderr, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter() - self.start
        seconds = end - self._epoch_start()
        self.epoch_ends.append(end)
        if self.verbose:
            erase = "\r\033[K" if self.live else ""  # the line that moved within the epoch
            print(f"{erase}  {self.label} epoch {epoch + 1}/{self.epochs}: "
                  f"loss {logs['loss']:.4f}, {seconds:.1f} s (total {self.epoch_ends[-1]:.1f} s)",
                  file=sys.stderr, flush=True)


def _optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    total_steps = max(1, config.epochs * steps_per_epoch)
    warmup = min(int(config.warmup_epochs * steps_per_epoch), total_steps - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=total_steps - warmup,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    optimizer = keras.optimizers.SGD(
        schedule, momentum=config.momentum, nesterov=True, weight_decay=config.weight_decay
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


def jit_compile() -> bool | str:
    """XLA everywhere but TensorFlow on CPU, where it makes training steps about twice as slow."""
    return False if keras.backend.backend() == "tensorflow" and not has_accelerator() else "auto"


def use_mixed_precision(config: TrainConfig) -> bool:
    """Mixed bfloat16 when asked, or by default whenever a GPU is used."""
    return has_accelerator() if config.mixed_precision is None else config.mixed_precision


def fit(
    build: Callable[[], keras.Model],
    data: Dataset,
    config: TrainConfig,
    seed: int = 0,
    initialise: Callable[[keras.Model], None] | None = None,
    label: str = "",
) -> tuple[keras.Model, TrainResult]:
    """Seed, build (and optionally initialise) a model, train it on ``data``, evaluate on the test set.

    >>> from netsplit.data import load_dataset
    >>> from netsplit.models import split_model
    >>> data = load_dataset("synthetic", train_size=64, test_size=32)
    >>> model, result = fit(lambda: split_model("vgg16", input_shape=data.input_shape, width_multiplier=0.125),
    ...                     data, TrainConfig(epochs=1, batch_size=32, verbose=False))
    >>> len(result.history), 0 <= result.accuracy <= 1
    (1, True)
    """
    git_commit()  # what the records say of the code: its state when training starts, not when a record is written
    enable_compilation_cache()
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if use_mixed_precision(config) else "float32")
    building = time.perf_counter()
    try:
        with timed_choices():  # built to be trained: "auto" blocks take the form that trains fastest here
            model = build()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    build_seconds = time.perf_counter() - building
    check_head(model, data)
    if initialise is not None:
        initialise(model)
    batches = AugmentedBatches(
        data.x_train, _one_hot(data.y_train, data.num_classes), config.batch_size, seed, data.flip, config.augment
    )
    model.compile(
        optimizer=_optimizer(config, len(batches)),
        loss=keras.losses.CategoricalCrossentropy(from_logits=not ends_in_softmax(model),
                                                  label_smoothing=config.label_smoothing),
        jit_compile=jit_compile(),
    )
    # Built here, not inside the first traced step: TensorFlow traces a step that creates variables twice.
    model.optimizer.build(model.trainable_variables)
    progress = _Progress(config.epochs, label or model.name, config.verbose)
    history = model.fit(batches, epochs=config.epochs, verbose=0, callbacks=[progress]) if config.epochs else None
    recalibrate_batch_norm(model, data.x_train, config.batch_size, config.recalibrate_batches)
    train_seconds = time.perf_counter() - progress.start
    evaluate = partial(_evaluate, model, data.num_classes, max(256, config.batch_size))
    loss, correct = evaluate(data.x_test, data.y_test)
    validation = None if data.x_val is None else evaluate(data.x_val, data.y_val)[1]
    return model, TrainResult(
        accuracy=float(correct.mean()),
        loss=loss,
        validation_accuracy=None if validation is None else float(validation.mean()),
        test_correct=correct,
        validation_correct=validation,
        history=[float(v) for v in history.history["loss"]] if history else [],
        train_seconds=round(train_seconds, 3),
        first_step_seconds=round(progress.first_step or 0.0, 3),
        epoch_seconds=[round(b - a, 4) for a, b in zip([0.0, *progress.epoch_ends], progress.epoch_ends)],
        build_seconds=round(build_seconds, 3),
    )


def check_head(model: keras.Model, data: Dataset) -> None:
    """Raise InputError unless ``model`` has one output per class of ``data``."""
    outputs = model.output_shape[-1]
    if outputs != data.num_classes:
        raise InputError(f"{model.name} ends in {outputs} outputs but {data.title} has {data.num_classes} "
                         f"classes; give the network a head with {data.num_classes} outputs")


def ends_in_softmax(model: keras.Model) -> bool:
    """Whether a network outputs probabilities (a network of your own may end in softmax), not logits."""
    return getattr(model.layers[-1], "activation", None) is keras.activations.softmax


def recalibrate_batch_norm(model: keras.Model, images: np.ndarray, batch_size: int, batches: int) -> None:
    """Replace BN moving statistics by their exact average over ``batches`` training batches.

    Moving averages lag behind weights that changed fast; after a short run (a fine-tune of a few
    epochs) that lag alone can cost most of the test accuracy.
    """
    norms = batch_norm_layers(model)
    if not norms or batches < 1:
        return
    momenta = [norm.momentum for norm in norms]
    try:
        for i, start in enumerate(range(0, min(len(images), batches * batch_size), batch_size)):
            for norm in norms:
                norm.momentum = i / (i + 1)  # running mean of the per-batch statistics
            model(images[start : start + batch_size], training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum


def batch_norm_layers(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    """Every BN layer of ``model``: its own, those inside split and fusion blocks, and nested models'."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, (SplitBlock, Fusion)):
            found.extend(layer.batch_norms())
        elif isinstance(layer, keras.Model):
            found.extend(batch_norm_layers(layer))
    return found


def _evaluate(model: keras.Model, classes: int, batch_size: int, images: np.ndarray,
              labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss on ``images`` and, per image, whether the network's top class is its label (one pass over them)."""
    scores = model.predict(images, batch_size=batch_size, verbose=0)
    loss = model.loss(_one_hot(labels, classes), scores)
    return float(keras.ops.convert_to_numpy(loss)), np.argmax(scores, axis=-1) == np.asarray(labels)


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[labels]


def make_record(network: keras.Model, data: Dataset, result: TrainResult, config: TrainConfig, **fields) -> RunRecord:
    """A run record for a trained model: its costs at the training input size, the result, provenance."""
    cost = total(analyse(network))
    return RunRecord.create(
        dataset=data.name,
        data_hash=data.content,
        epochs=config.epochs,
        accuracy=result.accuracy,
        validation_accuracy=result.validation_accuracy,
        validation_size=0 if data.x_val is None else len(data.x_val),
        test_correct=pack_correct(result.test_correct),
        validation_correct=None if result.validation_correct is None else pack_correct(result.validation_correct),
        loss=result.loss,
        history=result.history,
        params=cost.params,
        macs=cost.macs,
        memory_layerwise=cost.memory_layerwise,
        memory_branchwise=cost.memory_branchwise,
        input_size=data.input_shape[0],
        train_size=len(data.x_train),
        test_size=len(data.x_test),
        train_seconds=result.train_seconds,
        first_step_seconds=result.first_step_seconds,
        build_seconds=result.build_seconds,
        **fields,
    )


def train_network(
    build: Callable[[], keras.Model],
    data: Dataset,
    config: TrainConfig,
    seed: int,
    store: RecordStore | None = None,
    initialise: Callable[[keras.Model], None] | None = None,
    label: str = "",
    **fields,
) -> tuple[keras.Model, RunRecord]:
    """Build, train and evaluate one network; return it with its record, appended to ``store`` if given.

    >>> from functools import partial
    >>> from netsplit.data import load_dataset
    >>> from netsplit.models import split_model
    >>> data = load_dataset("synthetic", train_size=64, test_size=32)
    >>> build = partial(split_model, "vgg16", None, data.input_shape, width_multiplier=0.125)
    >>> _, record = train_network(build, data, TrainConfig(epochs=1, batch_size=32, verbose=False), seed=0,
    ...     experiment="example", config_hash="-", model="vgg16", variant="proposed", split=[1] * 5, width_multiplier=0.125)
    >>> record.dataset, record.params == build().count_params()
    ('synthetic', True)
    """
    model, result = fit(build, data, config, seed, initialise, label)
    record = make_record(model, data, result, config, seed=seed, **fields)
    if store is not None:
        store.append(record)
    return model, record
