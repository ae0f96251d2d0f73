"""The inference benchmark runs and writes well-formed records; the chapter's tables read them."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from netsplit.study.inference import (
    NETWORKS,
    accuracy_table,
    latency_ratios,
    layer_rates,
    locate,
    memory_table,
    read_results,
    size_table,
    with_bound,
)

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {
    "run": {"date", "device", "versions", "git_commit", "load_at_start", "interpreter"},
    "peak": {"engine", "precision", "threads", "macs_per_second", "method", "load_1min"},
    "bandwidth": {"bytes_per_second", "method"},
    "size": {"model", "network", "precision", "bytes"},
    "latency": {"engine", "model", "network", "width_multiplier", "input_size", "threads", "precision", "macs",
                "median_ms", "p10_ms", "p90_ms", "runs", "load_1min"},
    "litert": {"bytes", "disturbed", "attempt", "chosen_lowering"},
    "memory": {"model", "network", "input_size", "peak_rss_bytes", "engine_peak_bytes", "invoke_growth_bytes"},
    "layer": {"groups", "input_size", "macs", "macs_per_second", "median_ms"},
    "accuracy": {"model", "network", "precision", "accuracy", "dataset", "test_size"},
    "end": {"seconds", "load_at_end"},
}


def test_the_paper_networks_are_timed():
    assert [n.name for n in NETWORKS] == ["baseline", "proposed_I", "proposed_II", "naive split", "shared split"]


def test_results_are_found_from_any_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert locate("pyproject.toml") == ROOT / "pyproject.toml"
    assert locate(tmp_path / "x.jsonl") == tmp_path / "x.jsonl"
    assert locate("results/none.jsonl") == tmp_path / "results" / "none.jsonl"


@pytest.mark.slow
def test_quick_benchmark_writes_well_formed_records(tmp_path, fashion_dir):
    out = tmp_path / "inference.jsonl"
    run = subprocess.run([sys.executable, "benchmarks/inference.py", "--quick", "--out", str(out),
                          "--data-path", str(fashion_dir)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["kind"] == "run" and records[-1]["kind"] == "end"
    for record in records:
        assert FIELDS[record["kind"]] <= set(record), record
    litert = [r for r in records if r["kind"] == "latency" and r["engine"] == "litert-xnnpack"]
    assert all(FIELDS["litert"] <= set(r) for r in litert)
    assert {r["engine"] for r in records if r["kind"] == "latency"} == {"litert-xnnpack", "tensorflow"}
    chosen = {(r["network"], r["precision"], r["input_size"]): r["chosen_lowering"] for r in litert}
    assert set(chosen["proposed_I", "int8", 32]) == {f"block{i}" for i in range(1, 6)}, "each block measured"
    assert chosen["naive split", "float16", 32] == chosen["naive split", "float32", 32], "float16 runs as float32"
    assert {(r["precision"], r["threads"]) for r in records if r["kind"] == "peak"} == {("float32", 1), ("int8", 1)}
    assert all(0 < r["p10_ms"] <= r["median_ms"] <= r["p90_ms"] for r in records if r["kind"] == "latency")
    frame = read_results(out)
    ratios = latency_ratios(frame)
    assert set(ratios["network"]) == {"baseline", "proposed_I", "naive split", "thin: MACs of proposed_I"}
    assert (ratios.query("network == 'baseline'")["MACs ratio"] == 1).all()
    assert ratios.query("network == 'naive split'")["MACs ratio"].max() < 0.5
    thin = ratios.query("network == 'thin: MACs of proposed_I'")["MACs ratio"]
    assert abs(thin.mean() - ratios.query("network == 'proposed_I'")["MACs ratio"].mean()) < 0.05, "thinned to its MACs"
    bound = with_bound(ratios, frame)
    assert (bound["bound ms"] > 0).all() and set(bound["bound by"]) <= {"MACs", "bytes"}
    assert size_table(frame).shape == (4, 3)
    assert set(accuracy_table(frame).columns) == {"keras", "float32", "float16", "int8"}
    memory = memory_table(frame)
    assert (memory["engine peak MiB"] > 0).all() and len(memory) == 4
    assert layer_rates(frame).shape == (3, 1), "1, 4 and 8 groups at the one size of a quick run"
    again = subprocess.run([sys.executable, "benchmarks/inference.py", "--quick", "--parts", "peak", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds[: len(records)] == [r["kind"] for r in records], "a run of some parts keeps what the file held"
    assert kinds[len(records):] == ["run", "peak", "peak", "bandwidth", "end"], "float32 and int8 on one thread"


def test_the_chapter_lists_networks_in_table_2_order_and_selects_one_row_at_a_time():
    import pandas as pd

    from netsplit.study.inference import in_network_order, quotient_display, select

    frame = pd.DataFrame({"model": ["vgg16", "vgg16", "resnet18", "vgg16"],
                          "network": ["shared split", "baseline", "8,2,2,4,4", "proposed_II"], "ms": [1.0, 2.0, 3.0, 4.0]})
    ordered = in_network_order(frame.set_index(["model", "network"])).index
    assert list(ordered) == [("resnet18", "8,2,2,4,4"), ("vgg16", "baseline"), ("vgg16", "proposed_II"),
                             ("vgg16", "shared split")], "Table 2's order, not the alphabet's"
    assert select(frame, model="vgg16", network="baseline")["ms"] == 2.0
    with pytest.raises(KeyError, match="0 rows"):
        select(frame, network="naive split")
    html = quotient_display(pd.DataFrame({"time / MACs": [1.05, 1.3]})).to_html()
    assert html.count("font-weight: bold") == 1, "only the quotient above the target is marked"


def latency_row(network, precision, median, size=32, threads=1, macs=100, spread=1.0, **fields):
    return {"kind": "latency", "engine": "litert-xnnpack", "lowering": "measured", "model": "vgg16", "network": network,
            "width_multiplier": 0.25, "input_size": size, "threads": threads, "precision": precision, "macs": macs,
            "median_ms": median, "p10_ms": median / spread, "p90_ms": median * spread, **fields}


def test_a_deployer_sees_each_choice_against_the_unsplit_float32_network():
    from netsplit.study.inference import DEPLOYMENTS, deployment_table

    rows = [latency_row("baseline", "float32", 10.0), latency_row("baseline", "int8", 4.0),
            latency_row("proposed_I", "float32", 6.0), latency_row("proposed_I", "int8", 3.0),
            latency_row("thin: MACs of proposed_I", "float32", 7.0), latency_row("thin: MACs of proposed_I", "int8", 2.0),
            latency_row("baseline", "float32", 99.0, threads=2), latency_row("proposed_I", "float32", 33.0, threads=2)]
    table = deployment_table(pd.DataFrame(rows), "vgg16", 0.25, pd.Series({"baseline": 92.6, "proposed_I": 92.0}))
    assert list(table.index) == list(DEPLOYMENTS)
    assert table["32px, 1t"].tolist() == [1.0, 0.4, 0.6, 0.3, 0.7, 0.2]
    assert table.loc["split alone", "32px, 2t"] == pytest.approx(1 / 3) and pd.isna(table.loc["int8 alone", "32px, 2t"])
    assert table["test accuracy % (float32)"].tolist()[:4] == [92.6, 92.6, 92.0, 92.0]
    assert table["test accuracy % (float32)"].isna().tolist()[4:] == [True, True], "a control not trained: no number"


def test_the_bound_is_the_longer_of_arithmetic_and_memory_traffic():
    from netsplit.study.inference import disturbed, with_bound

    records = pd.DataFrame([{"kind": "peak", "precision": "float32", "threads": 1, "macs_per_second": 1e9},
                            {"kind": "peak", "precision": "float32", "threads": 1, "macs_per_second": 2e9},
                            {"kind": "peak", "precision": "int8", "threads": 1, "macs_per_second": 8e9},
                            {"kind": "bandwidth", "bytes_per_second": 1e9}])
    latency = pd.DataFrame([latency_row("a", "float32", 10.0, macs=10_000_000, bytes=1_000_000),
                            latency_row("a", "float16", 10.0, macs=10_000_000, bytes=1_000_000),
                            latency_row("a", "int8", 10.0, macs=10_000_000, bytes=4_000_000)])
    bound = with_bound(latency, records)
    assert bound["bound ms"].tolist() == pytest.approx([5.0, 5.0, 4.0]), "the best peak; float16 runs as float32"
    assert bound["bound by"].tolist() == ["MACs", "MACs", "bytes"]
    assert bound["share of bound"].tolist() == pytest.approx([0.5, 0.5, 0.4])
    quiet = [latency_row("a", "float32", 1.0, spread=1.1), latency_row("b", "float32", 1.0, spread=1.1)]
    assert not disturbed(quiet, load=1.5, cores=2)
    assert disturbed(quiet, load=2.5, cores=2), "busier than the cores"
    assert disturbed([*quiet, latency_row("c", "float32", 1.0, spread=1.2)], load=0.1, cores=2), "p90/p10 = 1.44"


def test_the_networks_a_ratio_compares_are_disturbed_together():
    from netsplit.study.inference import mark_disturbed

    rows = [latency_row("baseline", "float32", 1.0, spread=1.05), latency_row("proposed_I", "float32", 0.5, spread=1.2),
            latency_row("baseline", "int8", 0.3, spread=1.05), latency_row("proposed_I", "int8", 0.2, spread=1.05)]
    frame = pd.DataFrame(rows).assign(load_1min=0.5)
    assert mark_disturbed(frame, cores=2).tolist() == [True, True, False, False], "p90/p10 = 1.44 in float32 only"
    assert mark_disturbed(frame.assign(load_1min=2.5), cores=2).all(), "busier than the cores"
    records = pd.concat([pd.DataFrame([{"kind": "run", "cpus": 2}]), frame])
    assert latency_ratios(records)["disturbed"].tolist() == [True, True, False, False], "the chapter applies the same rule"


def test_a_split_is_slower_only_where_its_fastest_tenth_lies_above_the_unsplit_median():
    from netsplit.study.inference import slower

    rows = [latency_row("baseline", "int8", 1.0), latency_row("proposed_I", "int8", 1.3, spread=1.2),
            latency_row("proposed_II", "int8", 1.3, spread=1.4)]
    ratios = latency_ratios(pd.DataFrame(rows))
    assert slower(ratios)["network"].tolist() == ["proposed_I"], "p10 1.08 above 1.0; p10 0.93 within the spread"


def stage_row(network, stage, form, ms, chosen=True):
    return {"kind": "stage", "model": "vgg16", "width_multiplier": 0.25, "input_size": 32, "threads": 1,
            "precision": "int8", "network": network, "stage": stage, "form": form, "median_ms": ms, "chosen": chosen}


def test_the_stage_table_sets_each_stage_of_a_split_network_against_the_unsplit_one():
    from netsplit.study.inference import stage_table

    stages = pd.DataFrame([stage_row("baseline", "block1", "unsplit", 0.010), stage_row("baseline", "block2", "unsplit", 0.020),
                           stage_row("proposed_I", "block1", "masked", 0.015),
                           stage_row("proposed_I", "block1", "grouped", 0.005, chosen=False),
                           stage_row("proposed_I", "block2", "unsplit", 0.021),
                           stage_row("naive split", "branches", "grouped", 0.045)])
    ratios = latency_ratios(pd.DataFrame([latency_row("baseline", "int8", 0.05), latency_row("proposed_I", "int8", 0.06, macs=50),
                                          latency_row("naive split", "int8", 0.06)]))
    table = stage_table(stages, ratios)
    first = table.xs("proposed_I", level="network").iloc[0]
    assert first[["block1", "block2", "stages"]].tolist() == pytest.approx([1.5, 1.05, 1.2]), "in the form it ran in"
    assert first[["network", "MACs"]].tolist() == pytest.approx([1.2, 0.5])
    naive = table.xs("naive split", level="network").iloc[0]
    assert naive["stages"] == pytest.approx(1.5) and pd.isna(naive["block1"]), "stages unlike the unsplit ones"


def test_the_stage_benchmark_explains_slower_splits_and_full_width_misses():
    from netsplit.study.inference import explained

    rows = [latency_row("baseline", "float32", 1.0, macs=100), latency_row("proposed_I", "float32", 0.7, macs=50),
            latency_row("proposed_II", "float32", 0.5, macs=50), latency_row("thin: MACs of proposed_I", "float32", 0.9, macs=50),
            latency_row("baseline", "int8", 1.0), latency_row("proposed_I", "int8", 1.2, spread=1.05),
            latency_row("baseline", "float32", 1.0, macs=100, width_multiplier=1.0),
            latency_row("proposed_I", "float32", 0.6, macs=50, width_multiplier=1.0)]
    found = explained(latency_ratios(pd.DataFrame(rows)))
    assert found[["network", "precision", "width_multiplier"]].values.tolist() == [
        ["proposed_I", "int8", 0.25], ["proposed_I", "float32", 1.0]], "slower at any width; above 1.1x at full width"


def test_each_run_of_the_benchmark_is_named_with_what_it_measured():
    from netsplit.study.inference import run_lines

    cpu = {"model": "AMD EPYC"}
    run = {"kind": "run", "date": "2026-12-01T10:00:00", "git_commit": "0123456789abcdef+dirty", "cpu": cpu,
           "load_at_start": [0.5], "arguments": {"models": "vgg16,resnet18", "widths": "study,1"}}
    records = pd.DataFrame([run, {"kind": "end", "seconds": 600, "load_at_end": [1.0], "left_out": "resnet18 at width 1"},
                            {**run, "arguments": {"models": "resnet18", "widths": "1", "parts": ["peak", "latency"]}},
                            {"kind": "end", "seconds": 1200, "load_at_end": [0.9]}])
    first, second = run_lines(records)
    assert first.startswith("2026-12-01, code at commit 0123456789ab with uncommitted changes: all parts for vgg16,resnet18")
    assert first.endswith("left out: resnet18 at width 1") and "10 minutes" in first
    assert "peak, latency for resnet18 at widths 1, 20 minutes" in second and "left out" not in second
    intel = {**run, "cpu": {"model": "Intel Xeon"}}
    with pytest.raises(ValueError, match="different CPUs"):
        run_lines(pd.DataFrame([run, records.iloc[1].to_dict(), intel, records.iloc[3].to_dict()]))


@pytest.mark.slow
def test_the_stage_benchmark_times_each_slower_network_stage_by_stage(tmp_path):
    lowering = {"block1": "masked", "block2": "grouped", "block3": "masked", "block4": "masked", "block5": "branches"}
    rows = [{"kind": "run", "cpus": 2},
            {**latency_row("baseline", "float32", 1.0, load_1min=0.1), "width_multiplier": 0.125},
            {**latency_row("proposed_I", "float32", 1.5, load_1min=0.1), "width_multiplier": 0.125,
             "chosen_lowering": lowering},
            {**latency_row("proposed_II", "float32", 0.5, load_1min=0.1), "width_multiplier": 0.125}]
    results, out = tmp_path / "inference.jsonl", tmp_path / "stages.jsonl"
    results.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = subprocess.run([sys.executable, "benchmarks/stage_times.py", "--results", str(results), "--runs", "2",
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["network"] for r in records} == {"baseline", "proposed_I"}, "only the slower split and its unsplit network"
    chosen = {r["stage"]: r["form"] for r in records if r["network"] == "proposed_I" and r["chosen"]}
    assert chosen == lowering, "the form each block was exported in is marked"
    assert all(r["form"] == "unsplit" and r["chosen"] for r in records if r["network"] == "baseline")
    assert all("cpu" in r and r["median_ms"] > 0 for r in records)
