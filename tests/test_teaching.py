"""The exercises of the Teaching chapter: what each solution claims is what running its exercise shows."""

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

import netsplit
from helpers import profile_search
from netsplit.search.config import SearchConfig
from netsplit.errors import InputError
from netsplit.blocks import Unit
from netsplit.layers import SplitBlock
from netsplit.records import read_records
from netsplit.search.runner import run_search
from netsplit.search.rule import replay
from netsplit.study.chapters import MEMORY_NETWORKS, counted_memory

ROOT = Path(__file__).resolve().parent.parent
TEACHING = (ROOT / "book" / "teaching.md").read_text()


def solution(label: str) -> str:
    """The text of the solution to exercise ``label``."""
    match = re.search(r"`{3,4}\{solution\} " + label + r"\n(.*?)\n`{3,4}\n(?=\n|$)", TEACHING, re.S)
    assert match, f"no solution for {label}"
    return match.group(1)


def glued(notebook: str, key: str):
    """The value ``key`` that the executed book/``notebook`` glued."""
    for cell in json.loads((ROOT / "book" / notebook).read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == key:
                return output["data"]["application/papermill.record/text/plain"]
    raise KeyError(f"{notebook} glues no {key!r}")


def test_every_exercise_states_objectives_and_time():
    exercises = re.findall(r"```\{exercise\}.*?\n```", TEACHING, re.S)
    assert len(exercises) >= 7
    for exercise in exercises:
        assert "Objectives:" in exercise and re.search(r"Time:\s+about\s+\d+\s+minutes", exercise), exercise[:60]


@pytest.mark.slow
def test_count_the_weights_of_a_split():
    text = solution("ex-count")
    block = SplitBlock([Unit("conv", 128), Unit("conv", 128)], factor=4, implementation="branches")
    block.build((None, 16, 16, 64))
    first, second = (sum(w["kernel"].size for w in block.get_branch_weights()[p]) for p in block.positions)
    unsplit = SplitBlock([Unit("conv", 128), Unit("conv", 128)])
    unsplit.build((None, 16, 16, 64))
    whole = sum(w["kernel"].size for branches in unsplit.get_branch_weights().values() for w in branches)
    for number in (whole, first, second, first + second, 128 * 128):
        assert f"{number:,}".replace(",", "{,}") in text, number
    assert 2 * (first + second) == whole and "half of the block" in text
    info = subprocess.run([sys.executable, "-m", "netsplit.cli", "info", "--model", "vgg16", "--split", "1,4,1,1,1",
                           "--json"], capture_output=True, text=True, cwd=ROOT)
    block2 = next(b for b in json.loads(info.stdout)["blocks"] if b["block"] == "block2")
    fusion = 128 * 128 + 4 * 128  # 1x1 conv and its BN
    assert block2["params"] == block.count_params() + fusion


def test_where_the_memory_goes():
    memory = counted_memory(MEMORY_NETWORKS, [2048], ("vgg16",)).query("execution == 'branch by branch'")
    peak = memory.set_index("network")["peak MiB"]
    layerwise = counted_memory({"original": MEMORY_NETWORKS["original"]}, [2048], ("vgg16",))["peak MiB"].max()
    assert peak["all 8"] < peak["proposed_I"] and layerwise / peak["all 8"] < 8
    assert peak["all 8"] == (3 + 2 * 8 + 7 * 8 / 4) * 2048**2 * 4 / 2**20, "the first block's count in the solution"
    assert layerwise == 2 * 64 * 2048**2 * 4 / 2**20
    for key, value in (("vgg_all8_2048", peak["all 8"]), ("vgg_original_2048", layerwise),
                       ("vgg_proposed_2048", peak["proposed_I"])):
        assert float(glued("memory.ipynb", key)) == pytest.approx(value)
        assert f"memory.ipynb::{key}" in solution("ex-memory")


def test_split_your_own_network():
    """The solution's own two lines, run on a CNN like the chapter's, print what it says."""
    text = solution("ex-own")
    assert "`InputError` that names the `Add` layer" in text
    cnn = keras.Sequential([keras.Input((32, 32, 1)),
                            layers.Conv2D(8, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                            layers.Conv2D(8, 3, padding="same", use_bias=False), layers.BatchNormalization(),
                            layers.ReLU(), layers.MaxPooling2D(),
                            layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                            layers.GlobalAveragePooling2D(), layers.Dense(10)])
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 1)).astype("float32")
    snippets = re.findall(r"`([^`]+)`", text)
    split = next(code for code in snippets if code.startswith("same = netsplit.split_network(cnn"))
    difference = next(code for code in snippets if code.startswith("np.abs("))
    stated = re.search(re.escape(f"`{difference}`") + r"\s+is\s+(\d+\.\d+)", text).group(1)
    namespace = {"netsplit": netsplit, "np": np, "cnn": cnn, "x": x}
    exec(split, namespace)
    assert str(eval(difference, namespace)) == stated
    inputs = keras.Input((32, 32, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = layers.Add(name="shortcut")([h, layers.Conv2D(8, 3, padding="same", activation="relu")(h)])
    residual = keras.Model(inputs, layers.Dense(10)(layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(h))))
    with pytest.raises(InputError, match="shortcut"):
        netsplit.split_network(residual, split=(2,))


def printed_by(code: str) -> str:
    """The last thing ``code`` prints."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})
    return printed.getvalue().split()[-1]


def test_the_fusion_solution_prints_what_its_text_says():
    """The solution's code prints the difference its text states; without the library's epsilon, the
    difference the text states for Keras' default."""
    text = solution("ex-fusion")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "epsilon=1e-5" in code and "`epsilon` of $10^{-5}$" in text
    assert printed_by(code) == re.search(r"prints `([^`]+)`", text).group(1)
    default = float(printed_by(code.replace("epsilon=1e-5", "")))
    stated = re.search(r"default `epsilon` of \$10\^\{-3\}\$.*?about (\d\.\d+)", text, re.S).group(1)
    assert f"{default:.1g}" == stated


DECIMALS = {"no": 0, "one": 1, "two": 2, "three": 3}


def test_the_rule_solution_names_the_decimals_of_the_chapters_table():
    """What ex-rule says of the search table's rounding is what the published VGG16 chapter prints."""
    cell = next(c for c in json.loads((ROOT / "book" / "vgg16.ipynb").read_text())["cells"]
                if "search_table(result)" in "".join(c["source"]))
    table = next("".join(o["data"]["text/plain"]) for o in cell["outputs"]
                 if "text/plain" in o.get("data", {}) and "baseline" in "".join(o["data"]["text/plain"]))
    shown = max(len(number.split(".")[1]) for number in re.findall(r"\b\d+\.\d+\b", table))
    stated = re.search(r"The table rounds to (\w+) decimals?", solution("ex-rule")).group(1)
    assert DECIMALS[stated] == shown


def search_records() -> tuple[list, float]:
    """The records of the published VGG16 chapter's search and the threshold it ran with."""
    parameters: dict = {}
    for cell in json.loads((ROOT / "book" / "vgg16.ipynb").read_text())["cells"]:
        if {"parameters", "injected-parameters"} & set(cell["metadata"].get("tags", [])):
            exec("".join(cell["source"]), parameters)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in parameters.items()
              if k in SearchConfig.__dataclass_fields__}
    records = SearchConfig(**fields).default_records(ROOT / parameters["records_dir"])
    return read_records(records), parameters["threshold"]


def test_the_search_rule_by_hand_gives_the_chapters_split():
    """Fig. 4 applied to the records, written out here apart from the library, gives the glued split."""
    records, threshold = search_records()
    accuracy = {}
    for r in records:
        if r.role in ("baseline", "candidate"):
            decided_on = r.accuracy if r.validation_accuracy is None else r.validation_accuracy
            accuracy.setdefault(tuple(r.split), []).append(decided_on)
    mean = {split: sum(a) / len(a) for split, a in accuracy.items()}
    split = [1] * 5
    factors = sorted({r.factor for r in records if r.role == "candidate"})
    for block in range(5):
        baseline = mean[tuple(split)]
        for factor in factors:
            candidate = tuple(split[:block] + [factor] + split[block + 1:])
            if round(100 * (baseline - mean[candidate]), 4) >= threshold:
                break
            split[block] = factor
    assert ",".join(map(str, split)) == glued("vgg16.ipynb", "found_split").strip("'")
    assert "vgg16.ipynb::found_split" in solution("ex-rule")


@pytest.mark.slow
def test_a_new_threshold_shares_the_records_and_trains_only_what_its_path_adds(tmp_path, fashion_dir):
    """Ex. threshold at 2.0 (block 1 of it), on a copy of the smoke chapter's records: one file, the network
    the report says is missing trained next, earlier networks not trained again."""
    config = replace(profile_search("smoke", "vgg16")[0], threshold=2.0, blocks=(1,))
    smoke_records = ROOT / "results" / "vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl"
    assert config.default_records(ROOT / "results") == smoke_records, "thresholds share one records file"
    for path in (smoke_records, smoke_records.with_suffix(".parents")):
        if path.exists():
            (shutil.copytree if path.is_dir() else shutil.copy)(path, tmp_path / path.name)
    before = read_records(tmp_path / smoke_records.name)
    missing = replay(before, threshold=2.0).missing
    assert missing is not None, "the chapter's records do not decide block 1 at 2.0"
    result = run_search(config, tmp_path / smoke_records.name, verbose=False)
    after = read_records(tmp_path / smoke_records.name)
    assert after[: len(before)] == before and tuple(after[len(before)].split) == missing
    trained_before = {(tuple(r.split), r.seed) for r in before}
    assert not [r for r in after[len(before):] if (tuple(r.split), r.seed) in trained_before], "nothing trained twice"
    assert result.split[0] >= replay(before, threshold=SearchConfig.threshold).split[0], "than at the chapter's 0.5"


def test_the_control_solution_finds_the_width_the_study_trained(monkeypatch):
    """The solution's matched width is the width of the study's thin control, and it runs on the records."""
    from netsplit.records import read_records

    monkeypatch.chdir(ROOT)
    code = re.search(r"```python\n(.*?)```", solution("ex-control"), re.S).group(1)
    records = read_records(re.search(r'read_records\("([^"]+)"\)', code).group(1))
    [trained] = {r.width_multiplier for r in records if r.experiment == "thin: parameters of proposed_I"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, {})
    difference, width = printed.getvalue().splitlines()
    assert float(width) == trained and "points" in difference


def test_the_class_duration_the_page_states_is_its_records():
    """The class profile's training time and network count on the teaching page are those of its committed
    records, and the processor it names is theirs."""
    from netsplit.study.chapters import FinalConfig, chapter_records
    from netsplit.study.reproduce import chapter_parameters

    parameters = chapter_parameters("vgg16", "class")
    config = SearchConfig.from_options(parameters, others=True)
    final = FinalConfig(config, parameters["final_epochs"], parameters["final_seeds"])
    searched = read_records(config.default_records(ROOT / "results"))
    trained = read_records(final.records_path(ROOT / "results"))
    trained_once = chapter_records(searched, trained)  # the unsplit network is the search's, copied
    minutes = round(sum(r.train_seconds for r in trained_once) / 60)
    words = {"five": 5, "six": 6, "seven": 7}
    stated = re.search(r"(\d+) minutes of training in all, the search and the (\w+)\s+networks", TEACHING)
    assert (int(stated.group(1)), words[stated.group(2)]) == (minutes, len(trained_once) - len(searched))
    assert {r.cpu["model"] for r in searched + trained} == {"AMD EPYC"} and "quiet 2-core AMD EPYC" in TEACHING
