"""Inference on an engine: a netsplit network as a LiteRT flatbuffer, and the helpers that run it.

:func:`convert` turns any netsplit model (trained or not) into a LiteRT (TensorFlow Lite) model at
batch 1, each split block lowered to grouped convolutions (one per layer), to dense convolutions with
block-diagonal weights, or to one convolution per branch, or to the one of these the engine runs fastest
here (:func:`measured_lowerings`, what :func:`export` does by default); the converter folds batch
normalisation into the convolutions. Weights can
stay float32, be stored as float16, or the whole network can be quantized to int8 after training,
calibrated on a representative set of training images.

Running an exported model needs only ``ai_edge_litert`` (TensorFlow's deprecated
``tf.lite.Interpreter`` where that package is missing); Keras and TensorFlow are imported only to
convert, so a process that just runs models stays small.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from netsplit.choices import LOWERINGS, PRECISIONS
from netsplit.errors import InputError
from netsplit.records import write_atomically

if TYPE_CHECKING:
    from collections.abc import Iterator

    import keras

    from netsplit.stages import Stage


def _check_representative(representative: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if representative is None or len(representative) == 0:
        raise InputError("int8 quantization needs representative images (a sample of the training data)")
    representative = np.asarray(representative, dtype=np.float32)
    if representative.shape[1:] != shape:
        raise InputError(
            f"representative images are {representative.shape[1:]} but the exported model takes {shape}"
        )
    return representative


def convert(
    model: keras.Model,
    precision: str = "float32",
    representative: np.ndarray | None = None,
    input_size: int | None = None,
    lowering: str | Mapping[str, str] = "grouped",
    threads: int = 1,
    signature: bool = True,
) -> bytes:
    """The LiteRT flatbuffer of ``model`` at batch 1, at ``precision`` (one of :data:`PRECISIONS`); int8
    calibrates on ``representative`` images and keeps float input and output. With ``signature``, the file has
    its serving signature (``get_signature_runner()``); without it, on TensorFlow, the traced network converts
    five times faster, the same operators (what the forms timed for a choice use).

    ``lowering`` is the form the engine runs each split block in, for all blocks or by block name (see
    :func:`~netsplit.forms.in_form`): "grouped" (one grouped convolution per layer, where the
    factor divides the widths), "masked" (one dense convolution with block-diagonal weights, zeros stored)
    or "branches" (one convolution per branch); "measured" takes, block by block, the form the engine runs
    fastest on this machine at this precision on ``threads`` threads (:func:`measured_lowerings`); "branchwise" runs each
    split block's branches one after another, each pooled before the next begins
    (:func:`~netsplit.branchwise.branch_ordered`), so that an engine planning its memory in graph order can
    reuse a branch's buffers for the next.

    >>> from netsplit.models import split_model
    >>> model = split_model("vgg16", split=(8, 2, 2, 4, 4), width_multiplier=0.125)
    >>> op_counts(convert(model))["CONV_2D"]  # 13 layers and 5 fusions: one convolution each
    18
    """
    import keras
    import tensorflow as tf

    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; valid precisions are {', '.join(PRECISIONS)}")
    if lowering == "measured":
        lowering = measured_lowerings(model, precision, input_size, threads)
    whole = isinstance(lowering, str)
    for form in [lowering] if whole else lowering.values():
        if form not in ((*LOWERINGS, "branchwise") if whole else LOWERINGS):
            raise InputError(f"unknown lowering {form!r}; valid lowerings are {', '.join(LOWERINGS)}"
                             + (", branchwise and measured (for the whole network)" if whole else " (per block)"))
    from netsplit.forms import in_form

    if lowering == "branchwise":
        from netsplit.branchwise import branch_ordered

        lowered = branch_ordered(in_form(model, "branches", input_size))
    else:
        lowered = in_form(model, lowering, input_size)
    shape = tuple(int(d) for d in lowered.input_shape[1:])
    if precision == "int8":
        representative = _check_representative(representative, shape)
    spec = [tf.TensorSpec((1, *shape), tf.float32, name="image")]
    with tempfile.TemporaryDirectory() as folder:
        if signature or keras.backend.backend() != "tensorflow":  # a SavedModel on disk carries the signature
            lowered.export(folder, format="tf_saved_model", input_signature=spec, verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        else:  # the traced function, its weights frozen into constants by the converter
            call = tf.function(lambda image: lowered(image, training=False), input_signature=spec)
            converter = tf.lite.TFLiteConverter.from_concrete_functions([call.get_concrete_function()])
        return _converted(converter, precision, representative)


def _converted(converter, precision: str, representative: np.ndarray | None) -> bytes:
    import tensorflow as tf

    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.representative_dataset = lambda: ([image[None]] for image in representative)
    return converter.convert()


def measured_lowerings(model: keras.Model, precision: str = "float32", input_size: int | None = None,
                       threads: int = 1, runs: int = 30) -> dict[str, str]:
    """The lowering the engine runs fastest here for each split block of ``model``: the block with the layer
    that closes it (its fusion, if any), alone, converted in every form at ``precision`` and timed on ``threads``
    threads (median of ``runs`` invocations, forms interleaved), at the block's own input size (at a square
    ``input_size``, if given); each block shape is timed once per machine and engine, then read from the cache.

    >>> from netsplit.models import split_model
    >>> sorted(measured_lowerings(split_model("vgg16", (1, 2, 1, 1, 1), width_multiplier=0.125), runs=2))
    ['block2']
    """
    return {stage.name: _fastest(stage, key, threads, runs)
            for stage, key in _stage_keys(model, precision, input_size) if stage.block.factor > 1}


def _fastest(stage: Stage, key: tuple, threads: int, runs: int) -> str:
    """The lowering the engine runs ``stage`` fastest in, timed once per machine and engine (kept beside the training
    forms' timings, :func:`~netsplit.implementations.read_cache`), whichever network holds the block."""
    from netsplit import implementations, runtime

    stage_key = json.dumps({"export": list(key), "threads": threads, "runs": runs, "engine": interpreter_engine(),
                            "versions": engine_versions(), "forms": LOWERINGS, "cpu": runtime.cpu_details()["model"]},
                           sort_keys=True, default=str)
    entry = _FASTEST.get(stage_key) or implementations.read_cache().get(stage_key)
    if entry is None:
        medians = _medians(_stage_forms(stage, key), threads, runs)
        entry = {"lowering": min(medians, key=medians.get), "ms": {form: 1e3 * s for form, s in medians.items()}}
        implementations.write_cache(stage_key, entry)
    _FASTEST[stage_key] = entry
    return entry["lowering"]


def stage_times(models: Mapping[str, keras.Model], precision: str = "float32", input_size: int | None = None,
                threads: int = 1, runs: int = 30) -> dict[str, dict[str, dict[str, float]]]:
    """Median milliseconds of every stage of each of ``models`` alone on the engine, by model, stage and form:
    a split block in each lowering, an unsplit one as it is ("unsplit"); all interleaved, ``runs`` each.

    >>> from netsplit.models import split_model
    >>> times = stage_times({"split": split_model("vgg16", (1, 2, 1, 1, 1), width_multiplier=0.125)}, runs=2)
    >>> sorted(times["split"]["block2"]), sorted(times["split"]["block1"])
    (['branches', 'grouped', 'masked'], ['unsplit'])
    """
    flatbuffers = {(name, stage.name, form): content
                   for name, model in models.items() for stage, key in _stage_keys(model, precision, input_size)
                   for form, content in _stage_forms(stage, key).items()}
    times: dict[str, dict[str, dict[str, float]]] = {}
    for (name, stage, form), seconds in _medians(flatbuffers, threads, runs).items():
        times.setdefault(name, {}).setdefault(stage, {})[form] = seconds * 1e3
    return times


_FORMS: dict[tuple, dict[str, bytes]] = {}
_FASTEST: dict[str, dict] = {}  # the choices of this process, where the cache file cannot be written


def _stage_keys(model: keras.Model, precision: str, input_size: int | None) -> Iterator[tuple[Stage, tuple]]:
    """Each stage of ``model`` with the key of its flatbuffers in :data:`_FORMS`: its layers' configurations,
    its input shape (square at ``input_size``, if given) and ``precision``."""
    from netsplit.stages import Stage, chain, layers_of

    shape = tuple(int(d) for d in model.input_shape[1:])
    if input_size is not None:
        shape = (input_size, input_size, shape[-1])
    for item in chain(model):
        if isinstance(item, Stage):
            configs = [layer.get_config() for layer in item.layers]
            yield item, (json.dumps(configs, sort_keys=True, default=str), shape, precision)
        for layer in layers_of(item):
            shape = tuple(int(d) for d in layer.compute_output_shape((1, *shape))[1:])


def _stage_forms(stage: Stage, key: tuple) -> dict[str, bytes]:
    """The stage alone, converted once per process in every lowering (an unsplit block: as it is), by form."""
    import keras

    if key not in _FORMS:
        _, shape, precision = key
        inputs = x = keras.Input(shape)
        for layer in stage.layers:
            x = layer.__class__.from_config(layer.get_config())(x)
        _FORMS[key] = _forms(keras.Model(inputs, x), precision, split=stage.block.factor > 1)
    return _FORMS[key]


def _forms(block: keras.Model, precision: str, split: bool = True) -> dict[str, bytes]:
    """A one-block model converted in every lowering its split block can take (grouped only where its factor divides
    the widths), by lowering; an unsplit block once, as "unsplit"."""
    from netsplit.implementations import candidates
    from netsplit.layers import SplitBlock

    shape = tuple(int(d) for d in block.input_shape[1:])
    images = np.random.default_rng(0).normal(size=(8, *shape)).astype("float32")
    if not split:
        return {"unsplit": convert(block, precision, images, signature=False)}
    forms = candidates(next(layer for layer in block.layers if isinstance(layer, SplitBlock)))
    return {form: convert(block, precision, images, lowering=form, signature=False)
            for form in LOWERINGS if form in forms}


def _medians(flatbuffers: Mapping, threads: int, runs: int) -> dict:
    """Median seconds of an invocation of each flatbuffer on ``threads`` threads, ``runs`` each, interleaved."""
    engines = {key: interpreter(content, threads) for key, content in flatbuffers.items()}
    for engine in engines.values():
        image = engine.get_input_details()[0]
        engine.set_tensor(image["index"], np.random.default_rng(0).normal(size=image["shape"]).astype("float32"))
        engine.invoke()
    seconds: dict = {key: [] for key in engines}
    for _ in range(runs):
        for key, engine in engines.items():
            seconds[key] += time_invokes(engine, 1)
    return {key: float(np.median(values)) for key, values in seconds.items()}


def export(
    model: keras.Model,
    path: str | Path,
    precision: str = "float32",
    representative: np.ndarray | None = None,
    input_size: int | None = None,
    lowering: str | Mapping[str, str] = "measured",
    threads: int = 1,
) -> Path:
    """Write :func:`convert`'s flatbuffer to ``path`` (a ``.tflite`` file) and return the path; by default each
    split block in the form the engine runs fastest here (:func:`measured_lowerings`)."""
    path = Path(path)
    if path.suffix != ".tflite":
        raise InputError(f"the exported model's file name must end in .tflite, got {str(path)!r}")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the exported model a file name of its own")
    content = convert(model, precision, representative, input_size, lowering, threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda partial: partial.write_bytes(content))


def interpreter_engine() -> str:
    """Which interpreter runs models here: "ai-edge-litert" or, where it is missing, "tf.lite"."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return "tf.lite"
    return "ai-edge-litert"


@cache
def engine_versions() -> dict[str, str]:
    """Versions of the interpreter that runs the models and of the TensorFlow that converts them."""
    from importlib.metadata import version

    import tensorflow as tf

    versions = {"tensorflow": tf.__version__}
    if interpreter_engine() == "ai-edge-litert":
        versions["ai-edge-litert"] = version("ai-edge-litert")
    return versions


KERNELS = ("xnnpack", "builtin")
"""The CPU kernels an interpreter runs: the XNNPACK delegate (LiteRT's default), or LiteRT's own kernels, whose
tensors its arena planner lays out in graph order."""


def interpreter(model: bytes | str | Path, threads: int = 1, input_size: int | None = None, kernels: str = "xnnpack"):
    """A ready LiteRT interpreter (``kernels``, one of :data:`KERNELS`; ``threads`` threads) for a flatbuffer
    or file, its input resized to a square ``input_size`` if given (the networks are fully convolutional)."""
    if kernels not in KERNELS:
        raise InputError(f"unknown kernels {kernels!r}; valid kernels are {', '.join(KERNELS)}")
    if interpreter_engine() == "ai-edge-litert":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    else:
        from tensorflow.lite import Interpreter
        from tensorflow.lite.experimental import OpResolverType
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    builtin = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    engine = Interpreter(**source, num_threads=threads, **(builtin if kernels == "builtin" else {}))
    if input_size is not None:
        image = engine.get_input_details()[0]
        engine.resize_tensor_input(image["index"], [1, input_size, input_size, int(image["shape"][-1])])
    engine.allocate_tensors()
    return engine


def operators(model: bytes | str | Path) -> list[tuple[str, list[tuple[int, ...]]]]:
    """Each operator of the model's main graph in order: its kind (e.g. ``CONV_2D``) and its inputs' shapes,
    read from the flatbuffer by the LiteRT schema."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema

    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    root = schema.Model.GetRootAs(content, 0)
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    kinds = [names[max(root.OperatorCodes(i).BuiltinCode(), root.OperatorCodes(i).DeprecatedBuiltinCode())]
             for i in range(root.OperatorCodesLength())]
    graph = root.Subgraphs(0)
    shape = lambda index: tuple(int(d) for d in graph.Tensors(index).ShapeAsNumpy()) if index >= 0 else ()
    return [(kinds[op.OpcodeIndex()], [shape(int(i)) for i in op.InputsAsNumpy()])
            for op in (graph.Operators(j) for j in range(graph.OperatorsLength()))]


def op_counts(model: bytes | str | Path) -> Counter:
    """How many operators of each kind the model holds (e.g. ``CONV_2D``)."""
    return Counter(kind for kind, _ in operators(model))


def predict(model: bytes | str | Path, images: np.ndarray, threads: int = 1) -> np.ndarray:
    """The model's outputs for ``images`` (N, H, W, C), one image per invocation."""
    engine = interpreter(model, threads)
    source, target = engine.get_input_details()[0]["index"], engine.get_output_details()[0]["index"]
    outputs = []
    for image in np.asarray(images, dtype=np.float32):
        engine.set_tensor(source, image[None])
        engine.invoke()
        outputs.append(engine.get_tensor(target)[0])
    return np.stack(outputs)


def accuracy(model: bytes | str | Path, images: np.ndarray, labels: np.ndarray, threads: int = 1) -> float:
    """Share of ``images`` the exported model classifies as ``labels``."""
    return float(np.mean(predict(model, images, threads).argmax(axis=-1) == np.asarray(labels)))


def time_invokes(engine, runs: int) -> list[float]:
    """Seconds of each of ``runs`` invocations of a ready interpreter (its input set once, before)."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        engine.invoke()
        seconds.append(time.perf_counter() - start)
    return seconds


def process_memory() -> dict[str, int]:
    """This process's resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes (Linux)."""
    status = Path("/proc/self/status")
    if not status.exists():
        raise OSError("process memory is read from /proc/self/status, which this system lacks")
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}
