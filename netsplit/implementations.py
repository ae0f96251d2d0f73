"""How each split block trains on this machine: its forms timed once per device and block shape, then cached.

A split block can run as one convolution per branch ("branches"), as one grouped convolution per
position ("grouped"), or as one dense convolution per position whose kernel is zero outside the
branches ("masked"). They compute the same function from the same weights; which is fastest depends
on the device and on the widths: narrow branches leave a CPU's convolution kernels idle, so 8 branches
of 2 filters cost more as 8 convolutions than as one masked 16-filter convolution, while 4 branches of
32 filters are cheaper apart. When a network is built to be trained (:func:`timed_choices`, which
:func:`netsplit.train.fit` uses), ``implementation="auto"`` times every form a block can take on the
block's own input shape (a training step at batch :data:`MEASURE_BATCH`, in a fresh process so that
the timing leaves no trace in the caller's random state or layer names) and keeps the fastest in a
cache file. Built for anything else (counting, inference, a chapter's figure) it takes the cached
choice, or separate branches where none is cached, and times nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras

from netsplit import runtime

MEASURE_BATCH = 128
"""The batch of the timed training steps: the study's. A block whose input is larger than 32x32 pixels is
timed at a batch of as many pixels (at least one image), so that timing a block built for 512x512 images
does not need the memory of 128 of them."""
MEASURE_ENV = "NETSPLIT_MEASURE_IMPLEMENTATIONS"
"""Set to 0 to skip the timing: "auto" then runs separate branches (grouped convolutions on a GPU)."""
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


def untimed_choice(block) -> str:
    """The form "auto" takes without timing: grouped convolutions on a GPU where they fit, else branches."""
    return "grouped" if runtime.has_accelerator() and "grouped" in candidates(block) else "branches"


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
    timed and cached within :func:`timed_choices`, else :func:`untimed_choice`."""
    forms = candidates(block)
    if block.factor == 1:
        return "branches"  # one branch: every form is the same convolution
    if os.environ.get(MEASURE_ENV, "1") == "0":
        return untimed_choice(block)
    timed = signature(block, input_shape)
    key = cache_key(timed)
    entry = read_cache().get(key)
    if entry is None or entry.get("choice") not in forms:
        if not _TIMING.get():
            return untimed_choice(block)
        times = time_in_child(timed, forms)
        entry = {"choice": min(forms, key=times.get), "ms": {form: round(1000 * t, 3) for form, t in times.items()}}
        print(f"{block.name}: split {block.factor} ways at input {tuple(input_shape)}, train step ms "
              + ", ".join(f"{form} {ms:.1f}" for form, ms in entry["ms"].items()) + f": runs {entry['choice']}",
              file=sys.stderr, flush=True)
        write_cache(key, entry)
    return entry["choice"]


def time_in_child(block_signature: dict, forms: list[str]) -> dict[str, float]:
    """Median train-step seconds of each form, timed in a fresh Python process."""
    request = json.dumps({"signature": block_signature, "forms": forms})
    done = subprocess.run([sys.executable, "-m", "netsplit.forms", request],
                          capture_output=True, text=True, env={**os.environ, MEASURE_ENV: "0"})
    if done.returncode != 0:
        raise RuntimeError(f"timing the forms of a split block failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
