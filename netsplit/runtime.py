"""Where a run happens: backend, device, library versions and git commit, for every record."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

LIBRARIES = ("keras", "numpy", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "netsplit")
"""Distributions whose versions every record carries (``tensorflow-cpu`` is TensorFlow's CPU-only wheel)."""


def backend() -> str:
    """The Keras backend in use (Keras is imported here, not with this module, so that reading paths is quick)."""
    import keras

    return keras.backend.backend()


@functools.cache
def accelerator_name() -> str | None:
    """Name of the GPU the current Keras backend computes on, or None on CPU."""
    name = backend()
    if name == "jax":
        import jax

        device = jax.devices()[0]
        return None if device.platform == "cpu" else device.device_kind
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    if name == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return None


@functools.cache
def enable_compilation_cache() -> str | None:
    """On JAX, keep compiled steps on disk, so that a resumed or repeated run skips compiling them.

    The folder is ``$NETSPLIT_COMPILATION_CACHE`` or ``~/.cache/netsplit/jax``; returns it (None
    on other backends).
    """
    if backend() != "jax":
        return None
    import jax

    folder = os.environ.get("NETSPLIT_COMPILATION_CACHE") or str(Path.home() / ".cache" / "netsplit" / "jax")
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    return folder


def has_accelerator() -> bool:
    """True when the backend runs on a GPU."""
    return accelerator_name() is not None


@functools.cache
def device_name() -> str:
    """The GPU's name, or "cpu (<processor model>)"."""
    gpu = accelerator_name()
    if gpu:
        return gpu
    return f"cpu ({cpu_details()['model']}){' with oneDNN' if onednn_enabled() else ''}"


SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The folder the package was imported from lies in (the repository, for a checkout)."""
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
"""The instruction-set flags that decide which kernels a CPU runs fast (vector width, int8 and bfloat16 units)."""


@functools.cache
def cpu_details() -> dict[str, object]:
    """This CPU's model, its :data:`CPU_FLAGS`, clock (MHz, as the kernel reports it) and usable cores."""
    info = {}
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    flags = set(info.get("flags", "").split())
    return {"model": info.get("model name", platform.processor() or platform.machine()),
            "flags": [flag for flag in CPU_FLAGS if flag in flags], "mhz": float(info.get("cpu MHz", 0) or 0),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}


ONEDNN_FEATURES = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile")
"""CPU features with which TensorFlow (2.9 on) turns oneDNN on by default on Linux x86."""


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its CPU kernels through oneDNN: the same networks, other rounding, other speed.

    ``TF_ENABLE_ONEDNN_OPTS`` (0, 1, true or false) decides where it is set; otherwise TensorFlow's default
    policy does: on for Linux x86 processors with one of :data:`ONEDNN_FEATURES`.
    """
    if backend() != "tensorflow":
        return False
    setting = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower()
    if setting in ("0", "1", "true", "false"):
        return setting in ("1", "true")
    x86_linux = platform.machine().lower() in ("x86_64", "amd64") and platform.system() == "Linux"
    return x86_linux and any(flag in cpu_details()["flags"] for flag in ONEDNN_FEATURES)


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that decide a result."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def head_commit(root: Path) -> str | None:
    """The commit ``root``'s checkout has out, read from git's own files (no process); None outside git."""
    git = root / ".git"
    if git.is_file():  # a worktree or submodule: ".git" names the real folder
        git = (root / git.read_text().removeprefix("gitdir:").strip()).resolve()
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.removeprefix("ref:").strip()
        common = git / "commondir"
        shared = (git / common.read_text().strip()).resolve() if common.exists() else git
        for folder in (git, shared):
            if (folder / ref).exists():
                return (folder / ref).read_text().strip()
        packed = (shared / "packed-refs").read_text().splitlines()
    except OSError:
        return None
    return next((line.split()[0] for line in packed if line.endswith(" " + ref)), None)


IMPORTED_COMMIT = head_commit(SOURCE_ROOT)
"""The commit checked out when the package was imported: records name the code that runs, not a later checkout."""


@functools.cache
def git_commit() -> str:
    """The commit the package was imported from ("+dirty" when code is modified; the run records and
    executed notebooks under results/ and book/ are data, not code); "unknown" outside a git checkout."""
    if IMPORTED_COMMIT is None:
        return "unknown"
    try:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!book"],
            cwd=SOURCE_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        dirty = ""
    return IMPORTED_COMMIT + ("+dirty" if dirty else "")


def project_root() -> Path:
    """The repository root (the folder holding pyproject.toml and netsplit/), from wherever a notebook runs."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists() and (folder / "netsplit").is_dir():
            return folder
    return here


def provenance() -> dict[str, object]:
    """Backend, device, CPU, versions and commit, as stored in each run record."""
    return {
        "backend": backend(),
        "device": device_name(),
        "cpu": cpu_details(),
        "versions": library_versions(),
        "git_commit": git_commit(),
    }

