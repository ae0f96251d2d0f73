"""How each split block trains on this machine: a cost model decides at build time, timing refines it.

A split block can run as one convolution per branch ("branches"), as one grouped convolution per
position ("grouped"), or as one dense convolution per position whose kernel is zero outside the
branches ("masked"). They compute the same function from the same weights; which is fastest depends
on the device and on the widths: narrow branches leave a CPU's convolution kernels idle, so 8 branches
of 2 filters cost more as 8 convolutions than as one masked 16-filter convolution, while 4 branches of
32 filters are cheaper apart. ``implementation="auto"`` takes, in this order: the choice cached for the
block's shape on this device; where a network is built to be trained (:func:`timed_choices`, which
:func:`netsplit.train.fit` uses) and :data:`FORM_COSTS` is not confident, the fastest form timed on the
block's own input shape (a training step at batch :data:`MEASURE_BATCH`, in a fresh process so that the
timing leaves no trace in the caller's random state or layer names), kept in a cache file; else the
cost model's choice, in microseconds, so that a plain ``compile()`` and ``fit()`` also trains fast.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras

from netsplit import runtime

MEASURE_BATCH = 128
"""The batch of the timed training steps: the study's. A block whose input is larger than 32x32 pixels is
timed at a batch of as many pixels (at least one image), so that timing a block built for 512x512 images
does not need the memory of 128 of them."""
MEASURE_ENV = "NETSPLIT_MEASURE_IMPLEMENTATIONS"
"""Set to 0 to skip the timing: "auto" then takes the cost model's choice (grouped convolutions on a GPU)."""
CACHE_ENV = "NETSPLIT_IMPLEMENTATION_CACHE"
"""The cache file (default ``~/.cache/netsplit/implementations.json``)."""


def cache_path() -> Path:
    """Where the timed choices are kept."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "netsplit" / "implementations.json")


def candidates(block) -> list[str]:
    """The forms ``block`` (built or not, its input channels known) can take."""
    return ["branches", "masked", *(["grouped"] if block.fits_grouped() else [])]


def can_run(block, form: str) -> bool:
    """Whether built ``block`` can take ``form`` (grouped convolutions need the factor to divide every width)."""
    return block.factor > 1 and form in candidates(block) if form == "grouped" else True


@dataclass(frozen=True)
class FormModel:
    """log(masked step time / branches step time) of a split block on a CPU, as a linear function of log2 of its
    narrowest branch's width and of its factor; fitted by :func:`fit_form_model` to the block timings of
    ``source`` (``python benchmarks/form_model.py`` refits it). It leaves the image size out on purpose (it
    would gain little), so that a network takes the same forms, and the same weight list, at any input size."""

    intercept: float
    branch_width: float
    factor: float
    residual_sd: float
    source: str

    def log_ratio(self, branch_width: float, factor: int) -> float:
        """The predicted log(masked / branches) time of a block's training step."""
        return self.intercept + self.branch_width * math.log2(branch_width) + self.factor * math.log2(factor)


FORM_COSTS = FormModel(intercept=-1.433, branch_width=0.307, factor=0.136, residual_sd=0.302,
                       source="results/train-speed-tensorflow-amd-epyc.jsonl")
"""The model "auto" decides by on a CPU (TensorFlow with oneDNN, AMD EPYC, 2 cores): masked where the masked
form is predicted faster, separate branches otherwise; within 3.3 % of the faster of the two on the 83 block
timings it was fitted to, against 37 % for separate branches everywhere. On another CPU or backend it is an
estimate."""
CONFIDENT = 2.0
"""A prediction farther than this many residual standard deviations from a tie is not timed."""


def fit_form_model(rows: list[dict], source: str) -> FormModel:
    """Least squares of log(masked / branches) on log2 branch width and factor over ``rows`` (each with
    ``branch_width``, ``factor`` and ``ms`` by form), coefficients to three decimals."""
    import numpy as np

    x = np.array([[1.0, math.log2(r["branch_width"]), math.log2(r["factor"])] for r in rows])
    y = np.array([math.log(r["ms"]["masked"] / r["ms"]["branches"]) for r in rows])
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual_sd = float(np.std(y - x @ coefficients, ddof=x.shape[1]))
    return FormModel(*(round(float(c), 3) for c in coefficients), round(residual_sd, 3), source)


def in_model_domain(block) -> bool:
    """Whether :data:`FORM_COSTS` describes ``block``: its convolutions run at one resolution (no pooling and no
    stride after its first unit), as in the blocks it was fitted to; a naive or shared split's whole-network
    branches are not."""
    return not any(unit.pool for unit in block.unit_specs[:-1]) and all(u.stride == 1 for u in block.unit_specs[1:])


def branch_width(units, factor: int) -> float:
    """The cost model's width of a block's branches: its narrowest layer's filters over the factor (at least 1)."""
    return max(min(unit.width for unit in units) / factor, 1.0)


def predicted_log_ratio(block) -> float:
    """:data:`FORM_COSTS`'s log(masked / branches) for ``block``."""
    return FORM_COSTS.log_ratio(branch_width(block.unit_specs, block.factor), block.factor)


def model_decides(block) -> bool:
    """Whether :data:`FORM_COSTS` is confident for ``block`` on a CPU, so that timing it would be wasted."""
    return not runtime.has_accelerator() and in_model_domain(block) and \
        abs(predicted_log_ratio(block)) > CONFIDENT * FORM_COSTS.residual_sd


def untimed_choice(block) -> str:
    """The form "auto" takes without timing: on a GPU grouped convolutions where they fit (else branches), on a
    CPU the faster of masked and separate branches by :data:`FORM_COSTS`."""
    if runtime.has_accelerator():
        return "grouped" if "grouped" in candidates(block) else "branches"
    return "masked" if in_model_domain(block) and predicted_log_ratio(block) < 0 else "branches"


def signature(block, input_shape: tuple) -> dict:
    """What decides a block's timing, besides the device: its units, factor, first conv and input shape."""
    from dataclasses import asdict

    return {"units": [asdict(u) for u in block.unit_specs], "factor": block.factor, "first_conv": block.first_conv,
            "input_shape": [int(d) for d in input_shape], "dtype_policy": keras.config.dtype_policy().name,
            "batch": measure_batch(input_shape)}


def measure_batch(input_shape: tuple) -> int:
    """The batch a block is timed at: :data:`MEASURE_BATCH`, or fewer where its input is larger than 32x32
    pixels, down to as many pixels as the study's batch (at least one image)."""
    height, width = (int(d) for d in input_shape[:2])
    return min(MEASURE_BATCH, max(1, MEASURE_BATCH * 32 * 32 // (height * width)))


def cache_key(block_signature: dict) -> str:
    """One line naming the backend, the device (oneDNN included) and the block."""
    return json.dumps({"backend": keras.backend.backend(), "device": runtime.device_name(), **block_signature},
                      sort_keys=True)


def read_cache() -> dict:
    """The cached timings by key; empty when there is no cache or it cannot be read."""
    try:
        return json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}


def write_cache(key: str, entry: dict) -> None:
    """Add one entry, keeping what other processes wrote meanwhile (atomic replace)."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = read_cache() | {key: entry}
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(cache, handle, indent=1, sort_keys=True)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only home: the choice is timed again next time


def block_timings(block) -> dict[str, float]:
    """The cached step milliseconds of a built, timed block's forms and of its unsplit twin ({} if untimed)."""
    entry = read_cache().get(cache_key(signature(block, tuple(block.input.shape[1:]))), {})
    return entry.get("ms", {})


_TIMING = contextvars.ContextVar("netsplit_timed_choices", default=False)


@contextlib.contextmanager
def timed_choices():
    """While active, "auto" times the forms of a block shape it has no cached choice for (training builds in it)."""
    token = _TIMING.set(True)
    try:
        yield
    finally:
        _TIMING.reset(token)


def choose_implementation(block, input_shape: tuple) -> str:
    """The fastest form of ``block`` on this device at ``input_shape`` (no batch axis): the cached choice, else
    timed and cached within :func:`timed_choices` where the cost model is not :data:`CONFIDENT`, else
    :func:`untimed_choice`."""
    forms = candidates(block)
    if block.factor == 1:
        return "branches"  # one branch: every form is the same convolution
    if os.environ.get(MEASURE_ENV, "1") == "0":
        return untimed_choice(block)
    timed = signature(block, input_shape)
    key = cache_key(timed)
    entry = read_cache().get(key)
    if entry is None or entry.get("choice") not in forms:
        if not _TIMING.get() or model_decides(block):
            return untimed_choice(block)
        times = time_in_child(timed, forms)
        entry = {"choice": min(forms, key=times.get), "ms": {form: round(1000 * t, 3) for form, t in times.items()}}
        print(f"{block.name}: split {block.factor} ways at input {tuple(input_shape)}, train step ms "
              + ", ".join(f"{form} {ms:.1f}" for form, ms in entry["ms"].items()) + f": runs {entry['choice']}",
              file=sys.stderr, flush=True)
        write_cache(key, entry)
    return entry["choice"]


def time_in_child(block_signature: dict, forms: list[str]) -> dict[str, float]:
    """Median train-step seconds of each form, timed in a Python process of its own: started at the first timing
    and kept for the next (starting Keras there is most of a timing's cost), ended with this one."""
    global _TIMER
    if _TIMER is None or _TIMER.poll() is not None:
        log = tempfile.TemporaryFile("w+")
        _TIMER = subprocess.Popen([sys.executable, "-m", "netsplit.forms"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log, text=True, env={**os.environ, MEASURE_ENV: "0"})
        _TIMER.log = log
        atexit.register(_TIMER.kill)
    _TIMER.stdin.write(json.dumps({"signature": block_signature, "forms": forms}) + "\n")
    _TIMER.stdin.flush()
    for line in _TIMER.stdout:
        if line.startswith("{"):
            return json.loads(line)
    _TIMER.wait()
    _TIMER.log.seek(0)
    raise RuntimeError(f"timing the forms of a split block failed:\n{_TIMER.log.read()[-2000:]}")


_TIMER: subprocess.Popen | None = None
