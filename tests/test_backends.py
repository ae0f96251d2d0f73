"""The same saved network gives the same outputs on TensorFlow and JAX."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from netsplit.models import split_model

PREDICT = """
import sys, numpy as np, keras
from netsplit.branchwise import predict_branchwise
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], predict_branchwise(model, x) if sys.argv[4] == "branchwise" else model.predict(x, verbose=0))
print(keras.backend.backend())
"""


def predict_on_jax(net, x, tmp_path, mode="ordinary"):
    """Save ``net``, load it in a JAX process, and return that process's predictions for ``x``."""
    net.save(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", PREDICT, str(tmp_path / "m.keras"), str(tmp_path / "x.npy"),
                          str(tmp_path / "y.npy"), mode], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip().endswith("jax"), run.stderr[-2000:]
    return np.load(tmp_path / "y.npy")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.parametrize("model,split", [("vgg16", (8, 2, 2, 4, 4)), ("resnet18", (2, 4, 6, 2, 2))])
def test_jax_matches_tensorflow(tmp_path, model, split):
    net = split_model(model, split, width_multiplier=0.25, implementation="branches")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(predict_on_jax(net, x, tmp_path), net.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_branchwise_inference_on_jax_matches_tensorflow(tmp_path):
    net = split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.25)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    expected = net.predict(x, verbose=0)
    np.testing.assert_allclose(predict_on_jax(net, x, tmp_path, "branchwise"), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_a_network_built_on_jax_exports_with_its_signature():
    code = ("import netsplit\nfrom netsplit.export import convert, interpreter, op_counts\n"
            "content = convert(netsplit.split_model('vgg16', (2, 1, 1, 1, 1), width_multiplier=0.125), signature=False)\n"
            "print(op_counts(content)['CONV_2D'], list(interpreter(content, 1).get_signature_list()))")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["14", "['serving_default']"], "13 layers and a fusion; the signature kept"


NO_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # any import of TensorFlow now fails
from netsplit.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_a_search_runs_on_jax_without_tensorflow(tmp_path, fashion_dir):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "NETSPLIT_COMPILATION_CACHE": str(tmp_path / "cache"), "NETSPLIT_FASHION_MNIST": str(fashion_dir)}
    args = ["search", "--width-multiplier", "0.125", "--train-size", "300", "--test-size", "100", "--blocks", "1",
            "--candidate-factors", "2", "--baseline-epochs", "1", "--finetune-epochs", "1", "--batch-size", "100",
            "--records", str(tmp_path / "r.jsonl")]
    run = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *args], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    from netsplit.records import read_records

    assert {r.backend for r in read_records(tmp_path / "r.jsonl")} == {"jax"}
    assert any((tmp_path / "cache").iterdir()), "compiled steps are cached on disk"
