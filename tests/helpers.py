"""Small helpers shared by the tests."""

import numpy as np


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
