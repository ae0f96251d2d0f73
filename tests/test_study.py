"""Study helpers: comparison tables, provenance, memory savings."""

import json
import math
import re
import statistics
from dataclasses import replace

import pandas as pd
import pytest
from scipy import stats

from netsplit.complexity import analyse, total
from netsplit.choices import MODELS
from netsplit.models import split_model
from netsplit.study.chapters import (MEMORY_NETWORKS, MODEL_NETWORKS, block_costs, comparison_networks, comparison_table, cost_table,
                            counted_memory, measured_memory, measurement_provenance, memory_savings, parameter_shares, provenance_note)
from helpers import SEARCH_TEXT
from netsplit.search.config import SearchConfig
from netsplit.study.reproduce import load_profiles
from netsplit.search.rule import Job
from oracle import Oracle


def test_memory_savings_from_measurements(tmp_path):
    rows = []
    for split, execution, measured, counted, seconds in [
        ("1,1,1,1,1", "layer by layer", 100, 50, 1.0), ("1,1,1,1,1", "branch by branch", 100, 50, 1.0),
        ("8,2,2,4,4", "layer by layer", 80, 50, 0.8), ("8,2,2,4,4", "branch by branch", 40, 20, 1.2),
        ("8,8,8,8,8", "layer by layer", 70, 50, 0.7), ("8,8,8,8,8", "branch by branch", 25, 10, 0.7),
    ]:
        rows.append({"model": "vgg16", "split": split, "input_size": 256, "execution": execution,
                     "measured_bytes": measured * 2**20, "analysis_bytes": counted * 2**20, "seconds": seconds,
                     "seconds_repeats": [seconds * 0.9, seconds, seconds * 1.2], "device": "cpu",
                     "backend": "tensorflow", "versions": {"keras": "3.15.1"}, "git_commit": "abc"})
    rows[-1].pop("seconds_repeats")  # an older measurement, timed once
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    savings = memory_savings(measured_memory([path, tmp_path / "missing.jsonl"]))
    row = savings.loc[("cpu", "vgg16", 256, "proposed_I")]
    assert row["measured saving"] == 2.5 and row["counted saving"] == 2.5 and row["agreement"] == 1.0
    assert row["time vs layer by layer"] == pytest.approx(1.5)
    assert row["time, lowest"] == pytest.approx(1.5 * 0.9 / 1.2) and row["time, highest"] == pytest.approx(1.5 * 1.2 / 0.9)
    all8 = savings.loc[("cpu", "vgg16", 256, "all 8")]
    assert all8["time, lowest"] == pytest.approx(1 / 1.2) and all8["time, highest"] == pytest.approx(1 / 0.9)
    provenance = measurement_provenance(measured_memory([path]))
    assert provenance.to_dict("records") == [{"device": "cpu", "backend": "tensorflow", "keras": "3.15.1",
                                              "git_commit": "abc", "measurements": 6, "timed passes each": 3}]
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


def test_each_model_has_its_chapter_text_and_its_comparison_networks_by_name():
    assert set(SEARCH_TEXT) == set(MODEL_NETWORKS) == set(MODELS)
    assert all(set(text) == {"title", "intro", "paper"} for text in SEARCH_TEXT.values())
    assert len({text["title"] for text in SEARCH_TEXT.values()}) == len(MODELS), "distinct chapter titles"
    assert all(load_profiles()[name]["note"] for name in ("smoke", "class", "cpu")), "results say what made them"
    vgg = comparison_networks("vgg16", (8, 2, 1, 1, 1))
    assert [n.name for n in vgg] == ["baseline", "proposed_I", "proposed_I, input split", "proposed_II", "naive split",
                                     "shared split", "found by search"]
    assert vgg[-1].split == (8, 2, 1, 1, 1) and vgg[1].split == vgg[2].split == (8, 2, 2, 4, 4)
    assert (vgg[1].first_conv, vgg[2].first_conv) == ("whole", "share")
    assert [n.name for n in comparison_networks("resnet18", (2, 1, 1, 1, 1))] == ["baseline", "naive split",
                                                                                   "found by search"]
    assert [n.name for n in comparison_networks("resnet18")] == ["baseline", "naive split"]


@pytest.mark.parametrize("model", MODELS)
def test_every_comparison_network_builds(model):
    for network in comparison_networks(model, (2, 2, 1, 1, 1)):
        built = network.build(model, width_multiplier=0.125, classes=10)
        assert built.output_shape == (None, 10), network.name
        assert network.variant in built.name or network.variant == "proposed", (network.name, built.name)


def test_cost_table_counts_each_comparison_network_from_its_model():
    costs = cost_table(input_size=32)
    assert list(costs.index) == [(m, n.name) for m in MODELS for n in comparison_networks(m)]
    assert (costs.xs("baseline", level="network")["parameters vs baseline"] == 1.0).all()
    proposed = total(analyse(comparison_networks("vgg16")[1].build("vgg16"), 32))
    row = costs.loc[("vgg16", "proposed_I")]
    assert row["parameters"] == proposed.params and row["MMACs"] == round(proposed.macs / 1e6, 1)
    assert row["parameters vs baseline"] == round(proposed.params / costs.loc[("vgg16", "baseline"), "parameters"], 3)
    assert (costs["memory branch by branch (KiB)"] <= costs["memory layer by layer (KiB)"]).all()


def test_block_costs_add_up_to_the_whole_network():
    blocks = block_costs("vgg16", ("baseline", "proposed_I"), 32)
    assert list(blocks["network"].unique()) == ["baseline", "proposed_I"]
    assert list(blocks.query("network == 'baseline'")["block"]) == ["block1", "block2", "block3", "block4",
                                                                    "block5", "head"]
    costs = cost_table(("vgg16",), 32)
    for name, group in blocks.groupby("network"):
        assert group["parameters"].sum() == costs.loc[("vgg16", name), "parameters"]


def test_parameter_shares_add_up_to_both_networks():
    shares = parameter_shares("vgg16", (8, 2, 1, 4, 4), width_multiplier=0.25)
    assert shares["unsplit"].sum() == split_model("vgg16", None, width_multiplier=0.25).count_params()
    split = split_model("vgg16", (8, 2, 1, 4, 4), width_multiplier=0.25, implementation="branches")
    assert shares["split"].sum() == split.count_params()  # (a masked block's dense kernel would count its zeros)
    assert shares.loc["block3", "split"] == shares.loc["block3", "unsplit"] and shares.loc["block3", "of which fusion"] == 0
    assert shares.loc["block4", "of which fusion"] == 128 * 128 + 4 * 128  # 1x1 conv and BN on 128 channels
    assert shares.loc["block2", "first conv"] == 16 * 32 * 9
    assert shares["share of unsplit"].sum() == pytest.approx(1) and shares["share of split"].sum() == pytest.approx(1)


def test_counted_memory_has_both_orders_for_every_case():
    memory = counted_memory(MEMORY_NETWORKS, [32, 256], models=("vgg16",))
    assert len(memory) == len(MEMORY_NETWORKS) * 2 * 2
    peaks = memory.pivot_table(index=["network", "input size"], columns="execution", values="peak MiB")
    assert (peaks["branch by branch"] <= peaks["layer by layer"]).all()
    assert peaks.loc[("original", 256), "branch by branch"] == peaks.loc[("original", 256), "layer by layer"]
    assert peaks.loc[("original", 256), "layer by layer"] == 64 * peaks.loc[("original", 32), "layer by layer"]


def test_the_data_title_names_subsets_held_out_images_and_width():
    from netsplit.search.config import SearchConfig
    from netsplit.data import load_dataset
    from netsplit.study.chapters import data_title

    config = SearchConfig(dataset="synthetic", train_size=100, test_size=50, validation_size=40, width_multiplier=0.25)
    title = data_title(config, load_dataset("synthetic", 100, 50, validation_size=40))
    assert title == "synthetic test data (100 train / 50 test images, 40 held out for the search's decisions, width x0.25)"


def test_comparison_table_gives_each_drop_its_welch_interval():
    config = SearchConfig(blocks=(1,))
    oracle = Oracle(config, {})
    records = []
    for name, accuracies in [("baseline", (0.930, 0.932, 0.934)), ("close", (0.929, 0.933, 0.931)),
                             ("far", (0.900, 0.902, 0.904))]:
        for seed, accuracy in enumerate(accuracies):
            record = oracle(Job((1, 1, 1, 1, 1), seed, "baseline", 1, 1, 1))
            record.experiment, record.accuracy = name, accuracy
            records.append(record)
    table = comparison_table(records)
    assert table.loc["far", "drop (points)"] == pytest.approx(3.0)
    assert table.loc["close", "drop (points)"] == pytest.approx(0.1)
    welch = stats.ttest_ind([93.0, 93.2, 93.4], [90.0, 90.2, 90.4], equal_var=False).confidence_interval()
    assert (table.loc["far", "drop low 95"], table.loc["far", "drop high 95"]) == pytest.approx((welch.low, welch.high))
    assert table.loc["close", "drop low 95"] < 0 < table.loc["close", "drop high 95"], "within noise: the interval holds 0"
    assert table.loc["far", "drop low 95"] > 0
    assert pd.isna(table.loc["baseline", "drop low 95"])
    single = comparison_table([r for r in records if r.seed == 0])
    assert single["drop low 95"].isna().all(), "one seed has no interval"
    one_baseline = comparison_table([r for r in records if r.experiment != "baseline" or r.seed == 0])
    assert one_baseline["drop low 95"].isna().all(), "nor has a baseline of one seed"


def test_the_searchs_unsplit_network_is_copied_not_trained_again(tmp_path, monkeypatch):
    import netsplit.study.chapters as study
    from netsplit.data import load_dataset
    from netsplit.records import read_records

    config = SearchConfig(dataset="synthetic", baseline_epochs=3)
    final = study.FinalConfig(config, epochs=3, seeds=2)
    oracle = Oracle(config, {})
    searched = [oracle(Job((1, 1, 1, 1, 1), 0, "baseline", 1, 1, 3)), oracle(Job((2, 1, 1, 1, 1), 0, "candidate", 1, 2, 1))]
    trained = []

    def train(config, network, seed, data, verbose=True):
        trained.append(f"{network.name} seed {seed}")
        return replace(searched[1], experiment=network.name, config_hash=config.hash, seed=seed, role="final",
                       split=list(network.split), width_multiplier=config.search.width_multiplier, timestamp=str(seed))

    monkeypatch.setattr(study, "train_comparison", train)
    networks = comparison_networks("vgg16", (2, 1, 1, 1, 1), ["found by search"])
    records = study.train_networks(final, networks, tmp_path / "n.jsonl", data=load_dataset("synthetic", 20, 10),
                                   searched=searched)
    assert trained == ["found by search seed 0", "baseline seed 1", "found by search seed 1"], "fine-tuned: not a twin"
    [copied] = [r for r in read_records(tmp_path / "n.jsonl") if r.experiment == "baseline" and r.seed == 0]
    assert (copied.experiment, copied.role, copied.seed, copied.accuracy) == ("baseline", "final", 0, searched[0].accuracy)
    assert len(records) == 4 and copied in records and copied.config_hash == final.hash
    trained.clear()
    assert study.train_networks(final, networks, tmp_path / "n.jsonl", train=False) == records and not trained
    assert study.untrained(final, networks, [copied]) == ["baseline (seed 1)", "found by search (seeds 0, 1)"]
    longer = study.FinalConfig(config, epochs=10, seeds=1)
    study.train_networks(longer, networks[:1], tmp_path / "l.jsonl", data=load_dataset("synthetic", 20, 10),
                         searched=searched)
    assert trained == ["baseline seed 0"], "trained for other epochs than the comparison networks: not a twin"


def test_networks_a_verdict_hinges_on_train_more_seeds_seed_after_seed():
    import netsplit.study.chapters as study

    networks = comparison_networks("vgg16", (2, 1, 1, 1, 1), ["proposed_I"])
    final = study.FinalConfig(SearchConfig(seed=2), seeds=2, network_seeds={"baseline": 4, "found by search": 3})
    plan = [(seed, network.name) for seed, network in study.training_plan(final, networks)]
    assert plan == [(2, "baseline"), (3, "baseline"), (4, "baseline"), (5, "baseline"),
                    (2, "found by search"), (3, "found by search"), (4, "found by search"),
                    (2, "proposed_I"), (3, "proposed_I")], "the networks that need most seeds first, seed after seed"
    two = study.FinalConfig(SearchConfig(), seeds=1, network_seeds={"baseline": 2, "proposed_I": 2})
    assert [(s, n.name) for s, n in study.training_plan(two, networks)] == [
        (0, "baseline"), (0, "proposed_I"), (1, "baseline"), (1, "proposed_I"), (0, "found by search")]
    assert study.untrained(final, networks[:1], []) == ["baseline (seeds 2, 3, 4, 5)"]


@pytest.fixture
def fake_training(monkeypatch) -> list[str]:
    """Comparison networks "trained" at once (a record made up for each), named in the list returned as they are."""
    import netsplit.study.chapters as study

    config = SearchConfig(dataset="synthetic")
    made, trained = Oracle(config, {})(Job((1, 1, 1, 1, 1), 0, "baseline", 1, 1, 3)), []

    def train_comparison(config, network, seed, data, verbose=True):
        trained.append(f"{network.name} seed {seed}")
        return replace(made, experiment=network.name, config_hash=config.hash, seed=seed, timestamp=str(len(trained)),
                       split=list(network.split), width_multiplier=network.width_multiplier or 1.0, role="final")

    monkeypatch.setattr(study, "train_comparison", train_comparison)
    return trained


def test_a_thin_control_of_another_width_is_not_this_ones_and_what_is_lacking_is_marked(tmp_path, fake_training):
    import netsplit.study.chapters as study
    from netsplit.data import load_dataset

    final, trained = study.FinalConfig(SearchConfig(dataset="synthetic"), epochs=3, seeds=1), fake_training
    old, new = (study.ComparisonNetwork("thin: MACs of found by search", width_multiplier=w) for w in (0.25, 0.125))
    records, data = tmp_path / "n.jsonl", load_dataset("synthetic", 20, 10)
    study.train_networks(final, [old], records, data=data)
    assert study.train_networks(final, [new], records, train=False) == [], "another threshold's control, another width"
    command = "make reproduce PROFILE=cpu NOTEBOOKS=vgg16 THRESHOLD=1"
    note = study.untrained_note(final, [old, new], study.train_networks(final, [old, new], records, train=False), command)
    assert "thin: MACs of found by search (seed 0)" in note and f"`{command}` trains them" in note
    assert study.untrained_note(final, [old], study.train_networks(final, [old], records, train=False), command) is None
    found = study.ComparisonNetwork("found by search", split=(8, 8, 8, 8, 8))
    table = study.with_untrained(study.comparison_table(study.train_networks(final, [old], records, train=False)), [old, found])
    assert table.loc["found by search", "split"] == "8,8,8,8,8: not trained" and pd.isna(table.loc["found by search", "accuracy %"])
    study.train_networks(final, [old, new], records, data=data)
    assert trained == ["thin: MACs of found by search seed 0"] * 2


def test_one_network_under_two_names_trains_once(tmp_path, fake_training):
    import netsplit.study.chapters as study
    from netsplit.data import load_dataset
    from netsplit.records import read_records

    final, trained = study.FinalConfig(SearchConfig(dataset="synthetic"), epochs=3, seeds=2), fake_training
    thin = [study.ComparisonNetwork(f"thin: {cost} of naive split", width_multiplier=0.0625)
            for cost in ("parameters", "MACs")]
    other = study.ComparisonNetwork("thin: MACs of shared split", width_multiplier=0.07)
    data = load_dataset("synthetic", 20, 10)
    study.train_networks(final, [*thin, other], tmp_path / "n.jsonl", data=data)
    assert trained == [f"{thin[0].name} seed 0", f"{other.name} seed 0", f"{thin[0].name} seed 1", f"{other.name} seed 1"]
    by_name = {(r.experiment, r.seed): r for r in read_records(tmp_path / "n.jsonl")}
    assert by_name[thin[1].name, 1].timestamp == by_name[thin[0].name, 1].timestamp, "a copy, counted once"
    assert len(study.chapter_records(by_name.values())) == 4


def shown(styler) -> dict:
    """What a styled table displays: {(row, column as shown): text}, read from its HTML."""
    import html
    import re

    cells = re.findall(r'<td id="T_\w+_row(\d+)_col(\d+)"[^>]*>(.*?)</td>', styler.to_html(), re.DOTALL)
    data = styler.data
    return {(data.index[int(r)], data.columns[int(c)]): html.unescape(text).strip() for r, c, text in cells}


def _comparison_records():
    """Three seeds of four networks whose numbers round differently once and twice: MACs 19.608 M (19.61,
    not 19.6 then 19.60), a parameter ratio 0.2546 (0.25, not 0.255 then 0.26), means whose drop is 0.9233
    (0.92, not 92.63 - 91.70 = 0.93)."""
    config = SearchConfig(blocks=(1,))
    oracle = Oracle(config, {})
    networks = {"baseline": ((0.9261, 0.9276, 0.9251), 1_000_000, 19_608_000, 131_072),
                "found by search": ((0.9167, 0.9182, 0.9162), 449_000, 9_855_400, 49_152),
                "naive split": ((0.9120, 0.9136, 0.9121), 254_600, 5_013_000, 37_274),
                "shared split": ((0.9193, 0.9187, 0.9208), 270_049, 9_444_800, 131_072)}
    records = []
    for name, (accuracies, params, macs, branchwise) in networks.items():
        for seed, accuracy in enumerate(accuracies):
            record = oracle(Job((1, 1, 1, 1, 1), seed, "baseline", 1, 1, 1))
            record.experiment, record.accuracy, record.params, record.macs = name, accuracy, params, macs
            record.memory_layerwise, record.memory_branchwise = 131_072, branchwise
            records.append(record)
    return records


def test_the_comparison_table_keeps_full_precision_and_rounds_once_where_shown():
    from netsplit.study.chapters import COMPARISON_SHOWN, comparison_display

    records = _comparison_records()
    table = comparison_table(records)
    assert table.loc["baseline", "MMACs"] == 19.608 and table.loc["naive split", "parameters vs baseline"] == 0.2546
    cells = shown(comparison_display(table))
    expected = {}
    for name in table.index:
        group = [r for r in records if r.experiment == name]
        accuracies = [100 * r.accuracy for r in group]
        base = [100 * r.accuracy for r in records if r.experiment == "baseline"]
        values = {"accuracy %": statistics.fmean(accuracies), "± sd": statistics.stdev(accuracies),
                  "drop (points)": statistics.fmean(base) - statistics.fmean(accuracies),
                  "parameters": group[0].params, "parameters vs baseline": group[0].params / 1_000_000,
                  "MMACs": group[0].macs / 1e6, "memory branch by branch (KiB)": group[0].memory_branchwise / 1024}
        for column, value in values.items():
            header, decimals = COMPARISON_SHOWN[column]
            expected[(name, header)] = f"{value:,.{decimals}f}"
    assert {key: cells[key] for key in expected} == expected
    assert cells[("baseline", ("MMACs", ""))] == "19.61", "rounded once, not 19.6 shown as 19.60"
    assert cells[("naive split", ("parameters", "of baseline"))] == "0.25", "not 0.255 shown as 0.26"
    assert cells[("found by search", ("test accuracy %", "drop"))] == "0.92", "not 92.63 - 91.70"
    assert cells[("naive split", ("peak memory, KiB", "branch by branch"))] == "36.4"
    assert cells[("baseline", ("test accuracy %", "drop, 95 %"))] == "–"
    for name in table.index[1:]:
        low, high = table.loc[name, "drop low 95"], table.loc[name, "drop high 95"]
        assert cells[(name, ("test accuracy %", "drop, 95 %"))] == f"{low:+.2f} to {high:+.2f}"


def test_the_comparison_table_fits_the_text_column():
    """Seven short headers under four groups: the seed count and a memory column the same for every
    network move to the caption, and one seed leaves no spread columns."""
    from netsplit.study.chapters import comparison_display

    records = _comparison_records()
    style = comparison_display(comparison_table(records))
    assert [name for _, name in style.data.columns] == ["split", "mean", "± sd", "drop", "drop, 95 %", "count",
                                                        "of baseline", "", "branch by branch"]
    assert max(len(part) for column in style.data.columns for part in column) <= 16
    assert "seeds = 3, memory layer by layer (KiB) = 128.0" in style.to_html()
    single = comparison_display(comparison_table([r for r in records if r.seed == 0]))
    assert not {"± sd", "drop, 95 %"} & {name for _, name in single.data.columns}


def test_the_search_table_shows_two_decimals_in_every_cell(tmp_path):
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch
    from netsplit.study.chapters import search_table

    config = SearchConfig(blocks=(1, 2), candidate_factors=(2, 4, 6))
    oracle = Oracle(config, {1: {2: 0.1, 4: 0.7}, 2: {2: 0.2, 4: 0.3, 6: 0.9}}, base=0.923)
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lambda line: None).run()
    table = search_table(result)
    assert table.loc[1].to_dict() == {"baseline": "92.30", "K=2": "92.20", "K=4": "91.60", "K=6": "–", "chosen": "2"}
    assert table.loc[2].to_dict() == {"baseline": "92.20", "K=2": "92.00", "K=4": "91.90", "K=6": "91.30", "chosen": "4"}


def _trained_search(tmp_path, **options):
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch

    config = SearchConfig(**{"blocks": (1, 2), "candidate_factors": (2, 4, 6), "validation_size": 100, **options})
    oracle = Oracle(config, {1: {2: 0.2, 4: 0.8, 6: 0.3}, 2: {2: 0.1, 4: 0.3, 6: 0.45}}, validation=True)
    store = RecordStore(tmp_path / "r.jsonl", config.hash)
    return config, SplitSearch(config, oracle, store, log=lambda line: None).run(), store


def test_the_search_networks_in_the_order_they_trained_with_the_rules_decisions(tmp_path):
    from netsplit.study.chapters import training_order

    _, result, _ = _trained_search(tmp_path, sweep=True)
    for minute, record in enumerate(result.records):
        record.timestamp, record.train_seconds = f"2026-01-01T10:{minute:02d}:00+00:00", 60.0 + minute
        record.validation_size = 100_000
    result.records.reverse()  # the order of the records does not matter, their timestamps do
    order = training_order(result)
    assert list(order.columns) == ["split", "block", "factor", "seed", "validation %", "test %", "± se", "drop (points)",
                                   "decision", "clear of noise", "epochs", "train s"]
    assert order["± se"].iloc[0] == pytest.approx(100 * (0.9 * 0.1 / 100_000) ** 0.5)
    assert list(order["clear of noise"].iloc[1:]) == [True, True, False, True, False, False], \
        "drops of 0.3, 0.2 and 0.05 from the 0.5 threshold against 1.96 standard errors of about 0.13"
    for record in result.records:
        record.validation_size = 100
    assert not training_order(result)["clear of noise"].iloc[1:].any(), "on 100 images nothing is clear of noise"
    assert list(order["split"]) == ["1,1,1,1,1", "2,1,1,1,1", "4,1,1,1,1", "6,1,1,1,1", "2,2,1,1,1", "2,4,1,1,1",
                                    "2,6,1,1,1"]
    assert list(order["decision"]) == ["reference", "accept, kept", "stop", "after the stop", "accept", "accept",
                                       "accept, kept"]
    assert list(order["block"]) == [1, 1, 1, 1, 2, 2, 2] and list(order["factor"]) == [1, 2, 4, 6, 2, 4, 6]
    assert order["drop (points)"].iloc[0] is None or pd.isna(order["drop (points)"].iloc[0])
    assert list(order["drop (points)"].iloc[1:].round(6)) == [0.2, 0.8, 0.3, 0.1, 0.3, 0.45], "against the block's baseline"
    assert list(order["validation %"].round(6)) == [90.0, 89.8, 89.2, 89.7, 89.7, 89.5, 89.35]
    assert set(order["test %"]) == {90.0} and list(order["epochs"]) == [10, 3, 3, 3, 3, 3, 3]
    assert list(order["train s"]) == [60.0 + m for m in range(7)] and list(order.index) == list(range(1, 8))


def test_the_training_order_leaves_out_networks_off_the_path_and_says_when_it_decided_on_test(tmp_path):
    from netsplit.records import read_records
    from netsplit.search.rule import replay
    from netsplit.study.chapters import training_order, training_order_display

    _trained_search(tmp_path, threshold=0.5)
    _trained_search(tmp_path, threshold=1.0)  # trains 6,1 and its block 2 on top of the first search's networks
    records = read_records(tmp_path / "r.jsonl")
    order = training_order(replay(records, threshold=0.5))
    assert list(order["split"]) == ["1,1,1,1,1", "2,1,1,1,1", "4,1,1,1,1", "2,2,1,1,1", "2,4,1,1,1", "2,6,1,1,1",
                                    "6,1,1,1,1"], "ties keep the records' order; 6,1 is the replay's sweep of block 1"
    assert order["decision"].iloc[-1] == "after the stop"
    assert not any(split.startswith("6,") for split in order["split"][:-1]), "the other threshold's block 2 is not on this path"
    style = training_order_display(order)
    assert "seed" not in style.data.columns and "In every row: seed = 0." in style.to_html()
    assert shown(style)[(3, "validation %")] == "89.20" and shown(style)[(1, "drop")] == "–"
    for record in records:
        record.validation_accuracy = None
    assert "validation %" not in training_order(replay(records, threshold=0.5)).columns


def test_cpu_hours_count_every_network_of_a_chapter_once(tmp_path):
    from dataclasses import replace

    from netsplit.study.chapters import chapter_records, cpu_hours, record_devices

    _, result, _ = _trained_search(tmp_path, blocks=(1,))
    for minute, record in enumerate(result.records):
        record.timestamp, record.train_seconds = f"2026-01-01T10:{minute:02d}:00+00:00", 900.0
        record.device = "cpu (test)" if minute else "cpu (test) with oneDNN"
    twin = replace(result.records[0], experiment="baseline", role="final", block=None)  # copied, not trained
    other = replace(result.records[0], experiment="naive split", variant="naive", timestamp="2026-01-02T10:00:00+00:00",
                    train_seconds=1800.0, device="")
    again = list(result.records)  # a second threshold's search shares every network
    used = chapter_records(result.records, [twin, other], again)
    assert used == [*result.records, other]
    assert len(result.records) == 3
    assert cpu_hours([*result.records, twin, other, *again]) == pytest.approx((3 * 900 + 1800) / 3600)
    assert isinstance(cpu_hours(used), float)
    assert record_devices(used) == "cpu (test); cpu (test) with oneDNN"


def test_the_search_chapter_shows_its_networks_and_cost_without_hiding_warnings():
    """The chapter's source: no blanket warning filter, figures at twice the resolution, the search's
    networks as a table (its log is not in the book), tables shown through the rounding helpers, and the
    training hours and devices glued for the summary page."""
    from helpers import ROOT

    cells = json.loads((ROOT / "notebooks" / "search.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "filterwarnings" not in code and "simplefilter" not in code
    assert 'InlineBackend.figure_formats = ["retina"]' in code
    assert "line of the log" not in text and "order they trained" in text
    assert "training_order_display(order)" in code and "order = training_order(result)" in code
    assert "comparison_display(with_untrained(comparison, networks))" in code and "tradeoff_display(found)" in code and "precision=" not in code
    assert 'glue("cpu_hours", cpu_hours(run_records)' in code and 'glue("cpu_device", record_devices(run_records)' in code
    counted = re.search(r"run_records = chapter_records\((.*?)\)\n", code, re.S).group(1)
    for group in ("searched", "network_records", "control_records", "path_records"):
        assert group in counted, f"the chapter's training hours leave out {group}"


@pytest.mark.parametrize("cost", ["params", "macs"])
def test_a_thin_control_costs_what_its_split_network_costs(cost):
    from netsplit.study.chapters import ComparisonNetwork, thin_controls

    networks = comparison_networks("vgg16", (4, 4, 2, 6, 8))
    controls = {c.name: c for c in thin_controls("vgg16", networks, 0.25, (32, 32, 1))}
    assert sorted(controls) == sorted(f"thin: {label} of {name}" for name in ("proposed_I", "found by search", "shared split")
                                      for label in ("parameters", "MACs"))
    label = "parameters" if cost == "params" else "MACs"
    for network in networks:
        thin = controls.get(f"thin: {label} of {network.name}")
        if thin is None:
            continue
        built = {n: getattr(total(analyse(m.build("vgg16", input_shape=(32, 32, 1), width_multiplier=0.25))), cost)
                 for n, m in (("split", network), ("thin", thin))}
        assert thin.width_multiplier < 0.25 and thin.split == (1,) * 5
        assert abs(built["thin"] - built["split"]) / built["split"] < 0.03, (network.name, built)
        narrower = ComparisonNetwork("narrower", width_multiplier=thin.width_multiplier - 2 / 1024)
        assert getattr(total(analyse(narrower.build("vgg16", input_shape=(32, 32, 1), width_multiplier=0.25))), cost) \
            < built["thin"], "the width is the closest, not merely close"


def test_a_thin_control_is_labelled_by_its_width_in_the_comparison_table():
    config = SearchConfig(blocks=(1,))
    oracle = Oracle(config, {})
    records = []
    for name, width in (("baseline", 0.25), ("thin: parameters of proposed_I", 0.171)):
        record = oracle(Job((1, 1, 1, 1, 1), 0, "baseline", 1, 1, 1))
        record.experiment, record.width_multiplier = name, width
        records.append(record)
    table = comparison_table(records)
    assert table["split"].tolist() == ["1,1,1,1,1", "unsplit, width 0.171"]


def test_other_searches_are_the_chapters_search_with_one_change_each():
    from netsplit.errors import InputError
    from netsplit.study.chapters import other_searches

    config = SearchConfig(blocks=(1, 2))
    searches = other_searches(config, [{"seed": 1}, {"reference": "original"}])
    assert list(searches) == ["seed 1", "reference original"]
    assert searches["seed 1"].seed == 1 and searches["seed 1"].hash != config.hash, "other data: other records"
    assert searches["reference original"].hash == config.hash, "the same networks, judged otherwise"
    changes = [{"name": "fair rule", "fair_reference": True, "decision": "paired"}]
    fair = other_searches(config, changes)["fair rule"]
    assert changes[0]["name"] == "fair rule", "the profile's change is left as it was"
    assert fair.fair_reference and fair.default_records().name.endswith(f"{config.hash}-paired.jsonl")
    for wrong in ([{"sed": 1}], ["seed"], [{}]):
        with pytest.raises(InputError, match=r"e\.g\. \{'seed': 1\}.*settings are .*reference"):
            other_searches(config, wrong)
    with pytest.raises(InputError, match="reference must be one of"):
        other_searches(config, [{"reference": "first"}])


def test_each_search_path_shows_its_split_trained_from_scratch():
    from netsplit.search.rule import BlockOutcome, SearchResult
    from netsplit.study.chapters import ComparisonNetwork, found_networks, paths_display, paths_table

    def result(*chosen: int) -> SearchResult:
        outcomes = [BlockOutcome(block, 0.9, 0.9, {}, factor) for block, factor in enumerate(chosen, 1)]
        return SearchResult((*chosen, 1, 1, 1), outcomes, [], 0.5)

    results = {"as above": result(4, 2), "seed 1": result(4, 2), "reference original": result(2, 1)}
    networks = [ComparisonNetwork("baseline"), ComparisonNetwork("found by search", split=(4, 2, 1, 1, 1))]
    assert found_networks(results, networks) == [ComparisonNetwork("found by search, reference original", split=(2, 1, 1, 1, 1))]
    comparison = pd.DataFrame({"split": ["1,1,1,1,1", "4,2,1,1,1", "unsplit, width 0.5"], "accuracy %": [92.0, 91.5, 91.0],
                               "± sd": [0.1, 0.2, 0.3], "seeds": [3, 3, 3]}, index=["baseline", "found", "thin"])
    table = paths_table(results, comparison)
    assert list(table["found split"]) == ["4,2,1,1,1", "4,2,1,1,1", "2,1,1,1,1"]
    assert list(table["block 1"]) == [4, 4, 2] and table.loc["seed 1", "accuracy %"] == 91.5
    assert pd.isna(table.loc["reference original", "accuracy %"]), "not trained yet: no accuracy"
    assert "–" in paths_display(table).to_html(), "a missing accuracy shows as a dash"


def test_the_found_split_is_summed_up_or_said_to_be_missing():
    from netsplit.search.rule import SearchResult
    from netsplit.study.chapters import found_summary

    config = SearchConfig(blocks=(1,))
    oracle = Oracle(config, {})
    records = []
    for name, split, accuracy in (("baseline", (1, 1, 1, 1, 1), 0.92), ("found by search", (4, 1, 1, 1, 1), 0.915)):
        record = oracle(Job(split, 0, "baseline", 1, 1, 1))
        record.experiment, record.accuracy = name, accuracy
        records.append(record)
    table = comparison_table(records)
    found = found_summary(table, SearchResult((4, 1, 1, 1, 1), [], records, 0.5))
    assert found.startswith("the search found the split 4,1,1,1,1: it keeps ") and "(a drop of 0.50 points)" in found
    lacking = found_summary(table, SearchResult((1, 1, 1, 1, 1), [], records, 0.5, missing=(2, 1, 1, 1, 1)))
    assert lacking == "the search has not found its split yet: its path needs the network 2,1,1,1,1 next, which the records lack"


def test_engine_memory_is_read_per_kernels_against_the_unsplit_network(tmp_path):
    from netsplit.study.chapters import engine_memory, engine_memory_note

    path = tmp_path / "engine.jsonl"
    rows = [{"model": "vgg16", "network": network, "kernels": kernels, "input size": 512, "peak_mib": mib}
            for network, kernels, mib in (("unsplit", "builtin", 200.0), ("split, branchwise", "builtin", 60.0),
                                          ("split, grouped", "builtin", 190.0), ("split, grouped", "xnnpack", 95.0),
                                          ("unsplit", "xnnpack", 100.0), ("split, branchwise", "xnnpack", 350.0),
                                          ("unsplit", "xnnpack", 110.0))]  # a later measurement replaces an earlier
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = engine_memory(path)
    assert table.loc[("vgg16", "builtin", "split, branchwise"), ("vs unsplit", 512)] == pytest.approx(0.3)
    assert table.loc[("vgg16", "xnnpack", "split, branchwise"), ("vs unsplit", 512)] == pytest.approx(350 / 110)
    assert "time vs unsplit" not in table, "measured before it was timed"
    assert "own kernels" in engine_memory_note(table, 512) and "time" not in engine_memory_note(table, 512)
    path.write_text("".join(json.dumps({**row, "invoke_ms": row["peak_mib"] / 10}) + "\n" for row in rows))
    timed = engine_memory(path)
    assert timed.loc[("vgg16", "builtin", "split, branchwise"), ("time vs unsplit", 512)] == pytest.approx(0.3)
    assert "0.30x the unsplit network's memory (less) in 0.30x its time" in engine_memory_note(timed, 512)
    assert engine_memory(tmp_path / "none.jsonl").empty


def test_the_study_widths_are_the_published_profiles():
    from netsplit.study.chapters import STUDY_WIDTHS

    profiles = load_profiles()
    published = profiles[profiles["published"]["profile"]]
    assert STUDY_WIDTHS == {model: published[model].get("width_multiplier", published["all"]["width_multiplier"])
                            for model in MODEL_NETWORKS}


def test_the_published_records_are_those_the_published_chapter_reads():
    from netsplit.study.reproduce import chapter_parameters
    from netsplit.study.chapters import published_records

    parameters = chapter_parameters("vgg16")
    assert (parameters["model"], parameters["profile"], parameters["width_multiplier"]) == ("vgg16", "cpu", 0.25)
    records = published_records("vgg16")
    assert {"baseline", "proposed_I", "thin: MACs of proposed_I"} <= {r.experiment for r in records}
    assert {r.width_multiplier for r in records if r.experiment == "proposed_I"} == {0.25}
    assert chapter_parameters("vgg16", "smoke")["width_multiplier"] == 0.125


def test_the_studys_records_are_the_published_profiles_each_training_once(tmp_path):
    from netsplit.records import RunRecord
    from netsplit.study.chapters import cpu_hours, study_records

    made = Oracle(SearchConfig(dataset="fashion_mnist"), {})(Job((1, 1, 1, 1, 1), 0, "baseline", 1, 1, 3))
    kept = replace(made, validation_size=5000, train_seconds=3600.0)
    lines = [kept, replace(kept, experiment="a copy"), replace(kept, seed=1), replace(kept, validation_size=0)]
    (tmp_path / "vgg16-fashion_mnist-abc.jsonl").write_text("".join(r.to_json() + "\n" for r in lines))
    (tmp_path / "inference-cpu.jsonl").write_text('{"kind": "run"}\n')
    records = study_records(tmp_path)
    assert len(records) == 2 and all(isinstance(r, RunRecord) for r in records), "a copy once, another profile never"
    assert cpu_hours(records) == 2.0


def test_the_searches_agreement_is_told_from_their_paths():
    from netsplit.study.chapters import paths_summary

    paths = pd.DataFrame({"found split": ["4,4,2,6,8", "8,1,2,8,8", "4,4,2,6,8"], "accuracy %": [91.7, 92.01, None]})
    assert paths_summary(paths, 92.63) == ("The 3 searches found 2 different splits; trained from scratch, they reach "
                                           "91.70 to 92.01 % test accuracy, against 92.63 % for the unsplit network.")
    assert paths_summary(paths[["found split"]].iloc[:2], 92.63) == "The 2 searches found 2 different splits.", "none trained"


def test_a_split_networks_distance_from_the_unsplit_curve_is_read_at_its_own_cost():
    from netsplit.study.chapters import curve_distances, curve_summary

    rows = {"baseline": (400, 4.0, [92.0, 92.1, 91.9]), "thin: parameters of proposed_I": (100, 1.0, [90.0, 90.1, 89.9]),
            "thin: MACs of proposed_I": (200, 2.0, [91.0, 91.1, 90.9]), "proposed_I": (200, 8.0, [92.0, 92.2, 91.8])}
    table = pd.DataFrame({"parameters": {n: r[0] for n, r in rows.items()}, "MMACs": {n: r[1] for n, r in rows.items()},
                          "accuracies": {n: r[2] for n, r in rows.items()}}).rename_axis("network")
    distances = curve_distances(table)
    at_params = distances.loc[("proposed_I", "parameters")]
    assert at_params["distance (points)"] == pytest.approx(1.0), "the curve reads 91.0 at 200 parameters"
    assert at_params["low"] < 1.0 < at_params["high"]
    assert pd.isna(distances.loc[("proposed_I", "MACs"), "distance (points)"]), "8 MMACs lies beyond the curve"
    halfway = table.assign(parameters=table["parameters"].replace({200: 141}))  # about halfway between 100 and 200 in log
    read = curve_distances(halfway.drop(index="thin: MACs of proposed_I")).loc[("proposed_I", "parameters")]
    assert read["distance (points)"] == pytest.approx(92.0 - (90.0 + 2.0 * math.log(141 / 100) / math.log(4)))
    text = curve_summary(distances)
    assert "proposed_I +1.00 at equal parameters" in text and "Outside the curve's span, so not compared: proposed_I at equal MACs" in text


def test_the_map_of_results_is_current_and_names_every_file():
    from netsplit.runtime import SOURCE_ROOT
    from netsplit.study.index import index_text

    text = index_text()
    assert (SOURCE_ROOT / "results" / "README.md").read_text() == text, "run python -m netsplit.study.index"
    for path in (SOURCE_ROOT / "results").glob("*.jsonl"):
        assert f"`{path.name}`" in text
    assert "| `vgg16-fashion_mnist-88c16781cdc5.jsonl` |" in text and "cpu / vgg16 |" in text


@pytest.mark.slow
def test_the_parallel_runner_writes_each_record_as_it_finishes_and_resumes(tmp_path, fashion_dir):
    import os
    import subprocess
    import sys

    from netsplit.records import read_records

    env = {**os.environ, "KERAS_BACKEND": "jax", "NETSPLIT_FASHION_MNIST": str(fashion_dir),
           "NETSPLIT_COMPILATION_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "netsplit.study.parallel", "--profile", "smoke", "--models", "vgg16",
               "--networks", "baseline,naive split", "--workers", "2", "-p", "train_size", "256", "-p", "test_size", "128",
               "-p", "final_epochs", "1", "--out", str(tmp_path / "out")]
    first = subprocess.run(command, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    [path] = (tmp_path / "out").glob("vgg16-*-networks.jsonl")
    records = read_records(path)
    assert sorted(r.experiment for r in records) == ["baseline", "naive split"] and {r.backend for r in records} == {"jax"}
    assert all(r.test_correct for r in records), "per-image results, as every new record"
    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0 and "0 networks to train" in again.stderr and len(read_records(path)) == 2
    stopped = subprocess.run([*command[:-2], "--out", str(tmp_path / "late"), "--deadline", "0"], capture_output=True,
                             text=True, env=env)
    assert stopped.returncode == 0 and "deadline of 0 s reached: 2 networks left" in stopped.stderr


def test_the_command_that_trains_what_a_chapter_lacks_names_only_what_differs():
    from netsplit.study.chapters import train_command

    assert train_command("cpu", "vgg16", 0.5) == "make reproduce PROFILE=cpu NOTEBOOKS=vgg16"
    assert train_command("cpu", "vgg16", 1.0) == "make reproduce PROFILE=cpu NOTEBOOKS=vgg16 THRESHOLD=1"
    assert train_command("custom", "resnet18", 2.0) == \
        "papermill notebooks/search.ipynb out.ipynb -p model resnet18 -p threshold 2"


def test_the_parallel_runner_trains_one_network_under_two_names_once(tmp_path):
    from netsplit.records import RecordStore
    from netsplit.study.chapters import ComparisonNetwork, FinalConfig
    from netsplit.study.parallel import untrained

    final = FinalConfig(SearchConfig(dataset="synthetic"), seeds=1)
    store = RecordStore(tmp_path / "n.jsonl", final.hash)
    thin = [ComparisonNetwork(f"thin: {cost} of naive split", width_multiplier=0.0625) for cost in ("parameters", "MACs")]
    readings = [ComparisonNetwork("proposed_I", split=(8, 2, 2, 4, 4)),
                ComparisonNetwork("proposed_I, input split", split=(8, 2, 2, 4, 4), first_conv="share")]
    groups = untrained([("vgg16", 0, n) for n in thin + readings], {"vgg16": final}, {"vgg16": store})
    assert [[n.name for n in names] for names in groups.values()] == [
        [thin[0].name, thin[1].name], ["proposed_I"], ["proposed_I, input split"]], "the two readings are two networks"


def test_the_background_searches_are_the_chapters_own(monkeypatch, capsys):
    """``python -m netsplit.study.seeds MODEL --searches NAME`` runs the search the chapter shows under that name,
    into the file the chapter reads, then trains the splits found as the chapter does; a wrong name is refused."""
    from netsplit.search.rule import SearchResult
    from netsplit.study import seeds
    from netsplit.study.chapters import other_searches
    from netsplit.study.reproduce import chapter_parameters

    ran, trained = [], []

    def fake_search(config, records, **options):
        ran.append((config, records.name, options.get("train", True)))
        found = (2, 2, 1, 1, 1) if options.get("train", True) else (4, 4, 1, 1, 1)  # the chapter's own search: another
        return SearchResult(found, [], [], config.threshold)

    monkeypatch.setattr(seeds, "run_search", fake_search)
    monkeypatch.setattr(seeds, "train_networks", lambda final, networks, records, **options: trained.append(networks))
    monkeypatch.setattr(SearchConfig, "load_data", lambda self, path=None: None)
    seeds.main(["vgg16", "--searches", "fair rule, seed 1"])
    parameters = chapter_parameters("vgg16")
    expected = other_searches(SearchConfig.from_options(parameters, others=True), parameters["search_changes"])
    searched = [(config, name) for config, name, train in ran if train]
    assert searched == [(expected["fair rule, seed 1"], expected["fair rule, seed 1"].default_records().name)]
    assert searched[0][1].endswith("-paired.jsonl")
    assert [[(n.name, n.split) for n in networks] for networks in trained] == \
        [[("found by search, fair rule, seed 1", (2, 2, 1, 1, 1))]]
    with pytest.raises(SystemExit):
        seeds.main(["vgg16", "--searches", "seed 7"])
    assert "no search 'seed 7' in the vgg16 chapter's profile; its searches are 'seed 1'" in capsys.readouterr().err


def test_the_fair_rules_decisions_show_each_interval_and_the_blocks_bonus(tmp_path):
    """The table of a search with the fair rule: each candidate's paired drop with its interval, what the rule did
    (within noise: the smaller factor kept), and what fine-tuning alone gave the unsplit block."""
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch
    from netsplit.study.chapters import bonus_text, decisions_display, decisions_table

    penalties = {1: {2: 0.1, 4: 0.45, 6: 2.0}}
    config = SearchConfig(blocks=(1,), candidate_factors=(2, 4, 6), validation_size=2000, decision="paired",
                          fair_reference=True)
    oracle = Oracle(config, penalties, validation=True, images=2000, bonus=0.4)
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lambda line: None).run()
    table = decisions_table(result)
    assert list(table.index) == [(1, 2), (1, 4)]
    assert list(table["decision"]) == ["accept, kept", "stop (within noise)"]
    assert (table["low 95"] < 0.5).all() and table.loc[(1, 2), "high 95"] < 0.5 <= table.loc[(1, 4), "high 95"]
    assert table["drop (points)"].tolist() == pytest.approx([0.1, 0.45], abs=0.01)
    assert table["bonus (points)"].tolist() == pytest.approx([0.4, 0.4], abs=0.01)
    assert "gained +0.40 points over the block's base (block 1 +0.40)" in bonus_text(result)
    assert table.loc[(1, 4), "drop (points)"] == pytest.approx(result.outcomes[0].paired_drops[4]), "the paired mean"
    assert "drop, 95 %" in decisions_display(result).to_html()
    paper = SplitSearch(SearchConfig(blocks=(1,), candidate_factors=(2, 4)), Oracle(config, penalties),
                        RecordStore(tmp_path / "p.jsonl", config.hash), log=lambda line: None).run()
    assert decisions_table(paper)["low 95"].isna().all() and "no fine-tuned copy" in bonus_text(paper)
    assert decisions_table(replace(paper, outcomes=[])).empty, "a search that judged nothing: an empty table"
    unfinished = replace(result, outcomes=[*result.outcomes, replace(result.outcomes[0], block=2, decided=False)])
    assert list(decisions_table(unfinished).index) == [(1, 2), (1, 4)], \
        "a block whose decision waits on records it lacks is not shown as decided"
    assert bonus_text(unfinished) == bonus_text(result), "nor is its bonus"


def test_the_gap_between_a_split_networks_two_controls_is_said_with_its_interval():
    from netsplit.study.chapters import controls_text

    oracle = Oracle(SearchConfig(blocks=(1,)), {})
    records = []
    for name, accuracies in [("baseline", (0.930, 0.932, 0.934)), ("split", (0.925, 0.927, 0.929)),
                             ("thin: parameters of split", (0.920, 0.922, 0.924)),
                             ("thin: MACs of split", (0.926, 0.928, 0.930))]:
        for seed, accuracy in enumerate(accuracies):
            record = oracle(Job((1, 1, 1, 1, 1), seed, "baseline", 1, 1, 1))
            record.experiment, record.accuracy = name, accuracy
            record.width_multiplier = {"thin: parameters of split": 0.3, "thin: MACs of split": 0.35}.get(name, 1.0)
            records.append(record)
    welch = stats.ttest_ind([92.0, 92.2, 92.4], [92.6, 92.8, 93.0], equal_var=False).confidence_interval()
    text = controls_text(comparison_table(records))
    assert f"split's, -0.60 points ({welch.low:+.2f} to {welch.high:+.2f}; equal parameters against equal MACs)" in text
    assert controls_text(comparison_table([r for r in records if r.experiment != "thin: MACs of split"])) == ""
    assert controls_text(comparison_table([r for r in records if r.seed == 0])) == "", "one seed: no interval"
    alike = [replace(r, width_multiplier=0.3) if r.experiment.startswith("thin") else r for r in records]
    assert controls_text(comparison_table(alike)) == "", "one network thinned to both costs: nothing to compare"
