"""What was written before the library's restructuring still reads: saved networks and the study's records."""

from pathlib import Path

import keras
import numpy as np
import pytest

import netsplit  # noqa: F401  (registers the layers, as a user's import does)
from helpers import ROOT, profile_search
from netsplit.records import read_records
from netsplit.stages import stages

DATA = Path(__file__).parent / "data"


def test_a_network_saved_before_the_restructuring_loads_and_predicts_as_it_did():
    """``vgg16-4-1-2-1-1.keras`` was saved by the package at commit f9726b3, with the predictions it made."""
    model = keras.saving.load_model(DATA / "vgg16-4-1-2-1-1.keras")
    saved = np.load(DATA / "vgg16-4-1-2-1-1.npz")
    np.testing.assert_allclose(model.predict(saved["images"], verbose=0), saved["predictions"], rtol=1e-5, atol=1e-6)
    assert [stage.block.factor for stage in stages(model)] == [4, 1, 2, 1, 1]


@pytest.mark.parametrize("model", ["vgg16", "resnet18"])
def test_the_published_profile_still_finds_its_committed_records(model):
    """Renaming options must not move a search to a new records file: the study's networks would be trained again."""
    config, _ = profile_search("cpu", model)
    records = config.default_records(ROOT / "results")
    assert records.exists(), f"{records.name} is not among the committed records"
    assert {record.config_hash for record in read_records(records)} == {config.hash}
    assert {record.width_multiplier for record in read_records(records)} == {config.width_multiplier}, \
        "records written with the field's old name (width) read under its name now"
