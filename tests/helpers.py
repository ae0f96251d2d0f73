"""Small helpers shared by the tests."""

from pathlib import Path

import keras
import numpy as np
import yaml

from netsplit.search.config import SearchConfig
from netsplit.study.reproduce import load_profiles

ROOT = Path(__file__).resolve().parent.parent
SEARCH_TEXT = yaml.safe_load((ROOT / "notebooks" / "search.yml").read_text())
"""The search chapter's own text, by model: title, intro, paper."""


def profile_search(profile: str, model: str) -> tuple[SearchConfig, dict]:
    """The Fashion-MNIST search that ``profile`` of profiles.yml runs for ``model``, and all its options."""
    sections = load_profiles()[profile]
    options = {**sections["all"], **sections[model]}
    config = SearchConfig.from_options({"model": model, "dataset": "fashion_mnist", **options}, others=True)
    return config, options


def random_statistics(model, seed: int = 3):
    """Give every BN layer random moving statistics, so that copying them wrongly shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for w in layer.weights:
            if "moving_variance" in w.path:
                w.assign(rng.uniform(0.5, 2.0, w.shape).astype("float32"))
            elif "moving_mean" in w.path or "beta" in w.path:
                w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))
    return model


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    """``model``'s outputs for ``x`` in inference mode, called directly: a third of ``predict``'s time on a few images."""
    return keras.ops.convert_to_numpy(model(x, training=False))
