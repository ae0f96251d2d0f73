"""Run records: one JSON line per trained network, appended and flushed as soon as it finishes.

A records file belongs to one configuration (its hash is in every line). A line torn by a killed
process can only be the last one: it is reported and ignored. A garbled line anywhere else means
the file was edited or corrupted, and reading stops with an error rather than mixing it in.
"""

from __future__ import annotations

import dataclasses
import base64
import hashlib
import json
import os
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import numpy as np

from netsplit.errors import InputError

try:
    import fcntl
except ImportError:  # Windows has no flock: there, runs are not kept off each other's records file
    fcntl = None


@dataclass
class RunRecord:
    """Everything about one trained network: what it was, how it scored, what it costs, where it ran.

    >>> from netsplit.runtime import SOURCE_ROOT  # the repository, whichever the working folder
    >>> record = read_records(SOURCE_ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl")[0]
    >>> record.model, record.role, record.split
    ('vgg16', 'baseline', [1, 1, 1, 1, 1])
    """

    experiment: str
    config_hash: str
    model: str
    variant: str
    dataset: str
    split: list[int]
    seed: int
    epochs: int
    accuracy: float
    loss: float
    params: int
    macs: int
    memory_layerwise: int
    memory_branchwise: int
    input_size: int
    train_size: int
    test_size: int
    width_multiplier: float
    train_seconds: float
    first_step_seconds: float
    role: str = "train"  # train | baseline | candidate | final
    architecture: str | None = None  # a .keras network's architecture hash (model is then its file name)
    validation_accuracy: float | None = None  # on images held out of the training set, when there are
    validation_size: int = 0
    block: int | None = None
    factor: int | None = None
    history: list[float] = field(default_factory=list)
    backend: str = ""
    device: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str = ""
    timestamp: str = ""
    cpu: dict[str, object] = field(default_factory=dict)  # model, instruction-set flags, clock, cores: timings differ by CPU
    validation_correct: str | None = None  # which validation images it classified correctly (:func:`pack_correct`)
    test_correct: str | None = None  # which test images, in the data's order, likewise
    data_hash: str = ""  # SHA-256 of the data as read (netsplit.data.array_hash), before subsets
    build_seconds: float | None = None  # building the network, choosing each split block's form (timed where unsure)

    @classmethod
    def create(cls, **fields) -> RunRecord:
        """A record stamped with backend, device, CPU, versions, commit and the current UTC time."""
        from netsplit.runtime import provenance  # imports Keras, which reading records and locking them need not

        stamp = {**provenance(), "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        return cls(**{**stamp, **fields})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @property
    def key(self) -> tuple:
        """Identity of the network within its experiment, used to skip finished work on resume."""
        return (self.role, self.variant, tuple(self.split), self.block, self.factor, self.seed)


def write_atomically(path: str | os.PathLike, write) -> Path:
    """Write ``path`` by ``write(temporary_path)`` beside it, renamed into place once complete: a write that fails
    (a full disk) leaves no partial file, and what was at ``path`` before stays as it was.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "model.weights.h5"
    >>> write_atomically(target, lambda partial: partial.write_text(partial.name)).read_text()
    'model.partial.weights.h5'
    """
    path = Path(path)
    stem = path.name.split(".")[0]
    partial = path.with_name(f"{stem}.partial{path.name[len(stem):]}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def pack_correct(correct: np.ndarray) -> str:
    """Which images a network classified correctly, one bit each in the images' order, as base64 text.

    >>> unpack_correct(pack_correct(np.array([True, False, True])), 3)
    array([ True, False,  True])
    """
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode("ascii")


def unpack_correct(packed: str, images: int) -> np.ndarray:
    """The boolean array :func:`pack_correct` packed, ``images`` long."""
    bits = np.unpackbits(np.frombuffer(base64.b64decode(packed), dtype=np.uint8), count=images)
    return bits.astype(bool)


def correct_images(record: RunRecord, images: str = "test") -> np.ndarray | None:
    """Which ``images`` ("test" or "validation") ``record``'s network classified correctly; None where the record
    predates per-image results."""
    packed = record.test_correct if images == "test" else record.validation_correct
    return None if packed is None else unpack_correct(packed, record.test_size if images == "test" else record.validation_size)


class RecordsError(InputError):
    """A records file that cannot be used as asked (another configuration, a garbled line, in use, unwritable)."""


def config_hash(config: dict) -> str:
    """Short stable hash of a configuration (keys sorted)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_lines(path: str | os.PathLike) -> list[dict]:
    """Every line of a JSONL results file as a dict (benchmark results; run records have :func:`read_records`)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _parse(line: bytes) -> RunRecord:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise InputError("not a JSON object")
    unknown = set(data) - {f.name for f in dataclasses.fields(RunRecord)}
    if unknown:
        raise InputError(f"unknown fields {sorted(unknown)}; records an older netsplit wrote are brought up to date "
                         "by python -m netsplit.migrate FILE")
    for name in ("accuracy", "validation_accuracy"):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1):
            raise InputError(f"{name} must be a fraction from 0 to 1, got {value!r}")
    return RunRecord(**data)


def _scan(path: Path) -> tuple[list[RunRecord], int, str | None]:
    """Records, the byte length of the intact part, and why the last line was torn (or None)."""
    raw = path.read_bytes() if path.exists() else b""
    lines = raw.split(b"\n")
    records, intact = [], 0
    for number, line in enumerate(lines, 1):
        last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
        if line.strip():
            try:
                records.append(_parse(line))
            except (ValueError, TypeError) as error:
                if last:
                    return records, intact, f"line {number}: {error}"
                raise RecordsError(f"{path}:{number} is not a run record ({error}); fix or remove that line") from None
        intact = min(len(raw), intact + len(line) + 1)
    return records, intact, None


def read_records(path: str | os.PathLike) -> list[RunRecord]:
    """All complete records of a file; a torn last line is reported and skipped.

    >>> from netsplit.runtime import SOURCE_ROOT
    >>> len(read_records(SOURCE_ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl"))
    7
    """
    records, _, torn = _scan(Path(path))
    if torn:
        warnings.warn(f"{path}: ignoring a torn last line (an interrupted write), {torn}", stacklevel=2)
    return records


class RecordStore:
    """Append-only JSONL file of one configuration's records.

    >>> from netsplit.runtime import SOURCE_ROOT
    >>> store = RecordStore(SOURCE_ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl", "f5c3d6bd4e5a")
    >>> [r.accuracy for r in store.find(split=[1, 2, 1, 1, 1])] == [store.records[2].accuracy]
    True
    """

    def __init__(self, path: str | os.PathLike, config_hash: str):
        self.path, self.config_hash = Path(path), config_hash
        self.records, intact, torn = _scan(self.path)
        others = {r.config_hash for r in self.records} - {config_hash}
        if others:
            raise RecordsError(
                f"{self.path} holds records of another configuration ({', '.join(sorted(others))}, "
                f"this one is {config_hash}); use a new records file for a new configuration"
            )
        if torn:
            print(f"{self.path}: dropping a torn last line left by an interrupted run ({torn})", file=sys.stderr)
            with open(self.path, "r+b") as stream:
                stream.truncate(intact)

    def find(self, **key) -> list[RunRecord]:
        """Records whose fields equal ``key``."""
        return [r for r in self.records if all(getattr(r, k) == v for k, v in key.items())]

    def append(self, record: RunRecord) -> None:
        """Write one record and flush it to disk before returning."""
        if record.config_hash != self.config_hash:
            raise RecordsError(f"record of configuration {record.config_hash} does not belong in {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as stream:
            if stream.seek(0, os.SEEK_END):
                stream.seek(-1, os.SEEK_END)
                if stream.read(1) != b"\n":  # a last line written without its newline
                    stream.write(b"\n")
            stream.write(record.to_json().encode() + b"\n")
            stream.flush()
            os.fsync(stream.fileno())
        self.records.append(record)


class RecordsLock:
    """One run's exclusive hold on a records file (``with RecordsLock(path):``): a ``flock`` on ``<records>.lock``,
    released by the system however the process ends. A second run is refused; readers need no lock."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._stream = None

    def __enter__(self) -> RecordsLock:
        stream = self._open()
        try:
            if fcntl is not None:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if not _same_file(stream, self.lock_path):  # a run that ended removed it after this open: again
                    stream.close()
                    return self.__enter__()
            stream.truncate(0)
            stream.write(json.dumps(_this_run()) + "\n")
            stream.flush()
        except BlockingIOError:
            raise self._in_use(stream) from None
        except OSError as error:
            stream.close()
            raise RecordsError(f"{self.path} cannot be locked for this run ({self.lock_path}: {error.strerror}); "
                               "use a records file on a local disk") from None
        self._stream = stream
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock_path.unlink(missing_ok=True)  # removed while held: a run that opened it first sees it gone
        self._stream.close()  # closing releases the lock
        self._stream = None

    def _in_use(self, stream: IO[str]) -> RecordsError:
        """The refusal naming the run that holds the lock (read from the lock file), closing ``stream``."""
        stream.seek(0)
        holder = _holder(stream.read())
        stream.close()
        return RecordsError(f"{self.path} is in use by another run{holder}; "
                            f"wait for it to finish or use another records file")

    def _open(self) -> IO[str]:
        """The lock file, opened once the records' folder is made and an existing records file takes appends."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(self.path):  # a symlink loop or a dangling link fails here, not after training
                open(self.path, "ab").close()
            return open(self.lock_path, "a+")
        except OSError as error:
            reason = f"{error.filename} is a file, not a folder" if isinstance(error, FileExistsError) \
                else f"{error.filename}: {error.strerror}"
            raise RecordsError(f"{self.path} cannot be written ({reason}); use another records file") from None


def _same_file(stream: IO[str], path: Path) -> bool:
    """Whether the open ``stream`` is still the file at ``path``."""
    try:
        return os.fstat(stream.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _this_run() -> dict:
    """Who holds a records lock: pid, command line and start time."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = program.parent.name if program.name == "__main__.py" else program.name  # python -m netsplit
    return {"pid": os.getpid(), "command": " ".join([name, *sys.argv[1:]]),
            "started": datetime.now().astimezone().isoformat(timespec="seconds")}


def _holder(text: str) -> str:
    """The lock file's holder as ' (pid 1234, netsplit search, started 02:41:07)'; '' while it is being written."""
    try:
        run = json.loads(text)
        started = datetime.fromisoformat(run["started"]).astimezone()
        when = started.strftime("%H:%M:%S" if started.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S")
        return f" (pid {run['pid']}, {textwrap.shorten(run['command'], 60, placeholder=' ...')}, started {when})"
    except (ValueError, KeyError, TypeError):
        return ""
