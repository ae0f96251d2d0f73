"""Study helpers: comparison tables, provenance, memory savings."""

import json

import pytest

from netsplit.study import measured_memory, memory_savings, provenance_note
from oracle import Oracle
from netsplit.search import Job, SearchConfig


def test_memory_savings_from_measurements(tmp_path):
    rows = []
    for split, execution, measured, counted, seconds in [
        ("1,1,1,1,1", "layer by layer", 100, 50, 1.0), ("1,1,1,1,1", "branch by branch", 100, 50, 1.0),
        ("8,2,2,4,4", "layer by layer", 80, 50, 0.8), ("8,2,2,4,4", "branch by branch", 40, 20, 1.2),
        ("8,8,8,8,8", "layer by layer", 70, 50, 0.7), ("8,8,8,8,8", "branch by branch", 25, 10, 0.7),
    ]:
        rows.append({"model": "vgg16", "split": split, "input_size": 256, "execution": execution,
                     "measured_bytes": measured * 2**20, "analysis_bytes": counted * 2**20, "seconds": seconds,
                     "device": "cpu"})
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    savings = memory_savings(measured_memory([path, tmp_path / "missing.jsonl"]))
    row = savings.loc[("cpu", "vgg16", 256, "proposed_I")]
    assert row["measured saving"] == 2.5 and row["counted saving"] == 2.5 and row["agreement"] == 1.0
    assert row["time vs layer by layer"] == pytest.approx(1.5)
    assert savings.loc[("cpu", "vgg16", 256, "all 8")]["agreement"] == pytest.approx(4.0 / 5.0)
    assert measured_memory([tmp_path / "missing.jsonl"]).empty


def test_provenance_says_when_code_was_uncommitted():
    config = SearchConfig(blocks=(1,))
    record = Oracle(config, {})(Job((1, 1, 1, 1, 1), 0, "baseline", 1, 1, 1))
    record.device, record.backend, record.versions = "cpu (test)", "tensorflow", {"keras": "3"}
    record.git_commit, record.train_seconds = "abcdef1234567890+dirty", 120.0
    text = provenance_note([record])
    assert "1 networks trained on cpu (test)" in text and "2.0 minutes" in text
    assert "abcdef123456 with uncommitted changes" in text
