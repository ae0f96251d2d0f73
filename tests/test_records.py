"""One run per records file: the lock on ``<records>.lock``, its release when the holder dies, unwritable paths."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netsplit.search.runner
from netsplit.cli import main
from netsplit.search.config import SearchConfig
from netsplit.records import RecordsError, RecordsLock, read_records
from netsplit.search.runner import run_search

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "tests" / "data" / "records-own-network.jsonl"  # an own network's search, as a fixture
HOLD = ("import sys; from netsplit.records import RecordsLock; path = sys.argv[1]; sys.argv = ['netsplit', 'search']\n"
        "with RecordsLock(path):\n    print('locked', flush=True); sys.stdin.read()")
TINY = dict(dataset="synthetic", width_multiplier=0.125, train_size=64, test_size=32, blocks=(1,))


@pytest.fixture
def records(tmp_path) -> Path:
    """A new records file, so that a search on it that is not stopped trains."""
    return tmp_path / "runs" / "r.jsonl"


@pytest.fixture
def holder(records):
    """Another process, run as ``netsplit search``, holding ``records`` until its stdin closes or it is killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(records)], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout.readline() == "locked\n"
    yield process
    process.kill()
    process.wait()


@pytest.fixture
def no_training(monkeypatch):
    """Fails the test if a search gets as far as making its evaluator (which loads data and trains)."""
    monkeypatch.setattr(netsplit.search.runner, "TrainingEvaluator", lambda *args, **kwargs: pytest.fail("went on to train"))


def refused(path: Path) -> str:
    """The one-line message of taking the lock on ``path`` when that must fail."""
    with pytest.raises(RecordsError) as error:
        with RecordsLock(path):
            pytest.fail(f"took the lock on {path}")
    assert "\n" not in str(error.value)
    return str(error.value)


def test_a_second_run_is_refused_at_once_naming_the_first(records, holder):
    started = time.perf_counter()
    message = refused(records)
    assert time.perf_counter() - started < 1
    assert message.startswith(f"{records} is in use by another run (pid {holder.pid}, netsplit search, started ")
    assert message.endswith("; wait for it to finish or use another records file")


def test_readers_need_no_lock(records, holder, capsys):
    shutil.copy(PUBLISHED, records)
    assert len(read_records(records)) == len(read_records(PUBLISHED)) > 0
    assert main(["report", str(records), "--threshold", "0.5"]) == 0 and "final split" in capsys.readouterr().out


def test_a_killed_holder_leaves_no_stale_lock(records, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RecordsLock(records) as lock:
        assert json.loads(lock.lock_path.read_text())["pid"] == os.getpid()


def test_the_lock_file_is_removed_when_the_run_ends(records):
    with RecordsLock(records) as lock:
        assert refused(records).startswith(f"{records} is in use by another run (pid {os.getpid()}, ")
    assert not lock.lock_path.exists(), "nothing left beside the records"
    with RecordsLock(records):
        pass


def test_a_run_that_opened_the_lock_file_before_its_holder_removed_it_takes_a_new_one(records):
    held = RecordsLock(records).__enter__()
    early = open(held.lock_path, "a+")  # the next run opens the file its holder is about to remove
    held.__exit__(None, None, None)
    late = RecordsLock(records)
    opened = iter([early])
    late._open = lambda: next(opened, None) or RecordsLock._open(late)
    with late:  # the old file's lock guards nothing: the run takes the file that is there now
        assert os.fstat(late._stream.fileno()).st_ino == os.stat(late.lock_path).st_ino


def test_a_records_path_in_a_symlink_loop_is_refused_before_anything_trains(tmp_path):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    message = refused(loop)
    assert message.startswith(f"{loop} cannot be written (") and "Too many levels of symbolic links" in message


@pytest.mark.parametrize("where, reason", [
    ("/proc/r.jsonl", "/proc/r.jsonl.lock: No such file or directory"),
    ("afile/r.jsonl", "afile is a file, not a folder"),
    ("afile/sub/r.jsonl", "afile/sub: Not a directory"),
    ("afolder", "afolder: Is a directory"),
])
def test_a_records_path_that_cannot_be_written_is_refused(tmp_path, where, reason):
    (tmp_path / "afile").write_text("")
    (tmp_path / "afolder").mkdir()
    message = refused(tmp_path / where)
    assert message.startswith(f"{tmp_path / where} cannot be written (") and reason in message


def test_a_search_is_refused_before_training_while_another_holds_its_records(records, holder, no_training):
    with pytest.raises(RecordsError, match=f"in use by another run \\(pid {holder.pid}, "):
        run_search(SearchConfig(**TINY), records, verbose=False)


def test_a_search_is_refused_before_training_where_its_records_cannot_be_written(tmp_path, no_training):
    (tmp_path / "afile").write_text("")
    with pytest.raises(RecordsError, match="cannot be written"):
        run_search(SearchConfig(**TINY), tmp_path / "afile" / "r.jsonl", verbose=False)


def test_the_command_line_refuses_a_second_search_with_exit_status_2(records, holder, no_training, capsys):
    assert main(["search", "--dataset", "synthetic", "--blocks", "1", "--records", str(records)]) == 2
    assert f"in use by another run (pid {holder.pid}, netsplit search" in capsys.readouterr().err


def test_a_lock_the_file_system_cannot_take_is_refused_in_one_line(tmp_path, monkeypatch):
    import errno

    import netsplit.records

    def no_locks(stream, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(netsplit.records.fcntl, "flock", no_locks)
    with pytest.raises(RecordsError, match=r"r.jsonl cannot be locked for this run \(.*No locks available\)"):
        with RecordsLock(tmp_path / "r.jsonl"):
            pass


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path):
    from netsplit.records import write_atomically

    target = tmp_path / "8-2_s0.weights.h5"
    target.write_bytes(b"the weights of before")

    def full_disk(partial):
        partial.write_bytes(b"half of the new wei")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, full_disk)
    assert target.read_bytes() == b"the weights of before" and sorted(p.name for p in tmp_path.iterdir()) == [target.name]
