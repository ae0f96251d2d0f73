"""Records an older netsplit wrote are brought to today's form by one command, and refused with that advice."""

import json

import pytest

from netsplit.errors import InputError
from netsplit.migrate import main
from netsplit.records import read_records
from netsplit.search.rule import replay
from helpers import ROOT


@pytest.mark.parametrize("decisions", [{"threshold": 0.5, "decision": "accept", "drop": 0.1, "reference_accuracy": 0.9},
                                       dict.fromkeys(("threshold", "decision", "drop", "reference_accuracy"))],
                         ids=["stored", "empty"])
def test_old_records_are_rewritten_and_then_replay_as_before(tmp_path, capsys, decisions):
    today = (ROOT / "results" / "vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl").read_text().splitlines()
    old = [json.loads(line) for line in today]
    for record in old:  # as the first netsplit wrote them: with a search's decisions, or their empty fields
        record["width"] = record.pop("width_multiplier")
        record |= decisions
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    with pytest.raises(InputError, match="python -m netsplit.migrate FILE"):
        read_records(path)
    assert main([str(path)]) == 0 and "7 records rewritten" in capsys.readouterr().out
    assert path.read_text().splitlines() == today
    assert replay(read_records(path), 0.5).split == (1, 2, 1, 1, 1)
    assert main([str(path)]) == 0 and "0 records rewritten" in capsys.readouterr().out
