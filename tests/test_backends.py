"""The same saved network gives the same outputs on TensorFlow and JAX."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from netsplit.models import split_model

pytestmark = pytest.mark.slow

SCRIPT = """
import sys, numpy as np, keras
import netsplit.layers
model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
print(keras.backend.backend())
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.parametrize("model,split", [("vgg16", "8,2,2,4,4"), ("resnet18", "2,4,6,2,2")])
def test_jax_matches_tensorflow(tmp_path, model, split):
    net = split_model(model, split, width=0.25, implementation="branches")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    net.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "m.keras"), str(tmp_path / "x.npy"),
                          str(tmp_path / "y.npy")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("jax")
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), net.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
