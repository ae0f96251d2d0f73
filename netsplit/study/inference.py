"""The inference study: the networks timed on an inference engine, and the tables the chapter shows
from the records ``benchmarks/inference.py`` writes (one JSON object per line, each with a ``kind``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from netsplit.records import read_lines
from netsplit.runtime import SOURCE_ROOT, project_root
from netsplit.study import network_label, paper_networks

NETWORKS = [network for network in paper_networks(()) if network.name != "found by search" and network.first_conv == "whole"]
"""The paper's Table 2 networks: the baseline, proposed_I and II, the naive and the shared split."""

ORDER = list(dict.fromkeys(network_label(model, network.name, network.split)
                            for network in NETWORKS for model in ("vgg16", "resnet18")))
"""How the chapter's tables list the networks: Table 2's order, ResNet18's splits by their factors beside VGG16's names."""


def in_network_order(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its rows (indexed by network, possibly among other levels) in :data:`ORDER`."""
    rank = {name: i for i, name in enumerate(ORDER)}
    return table.sort_index(key=lambda index: index.map(lambda value: rank.get(value, value)))


def select(frame: pd.DataFrame, **where) -> pd.Series:
    """The one row of ``frame`` whose columns equal ``where`` (e.g. ``model="vgg16", network="proposed_I"``)."""
    rows = frame
    for key, value in where.items():
        rows = rows[rows[key] == value]
    if len(rows) != 1:
        raise KeyError(f"{len(rows)} rows where {where}, not one")
    return rows.iloc[0]


TARGET = 1.1
"""A split network meets the target when its latency ratio is at most this multiple of its MACs ratio."""


def locate(path: str | Path) -> Path:
    """A results file: ``path`` if absolute, else under the project root found from the working folder
    or, failing that, under the source tree this package was imported from."""
    path = Path(path)
    roots = [project_root(), SOURCE_ROOT]
    found = [root / path for root in roots if (root / path).exists()]
    return path if path.is_absolute() else (found or [roots[0] / path])[0]


def read_results(path: str | Path) -> pd.DataFrame:
    """All lines of a benchmark output file as a table (empty when the file does not exist), each network
    named as :func:`~netsplit.study.network_label` names it."""
    path = Path(path)
    frame = pd.DataFrame(read_lines(path) if path.exists() else [])
    if not frame.empty:  # split blocks were exported as grouped convolutions before the lowering was recorded
        frame["lowering"] = frame["lowering"].fillna("grouped") if "lowering" in frame else "grouped"
    if {"model", "network"} <= set(frame):
        splits = {network.name: network.split for network in NETWORKS}
        frame["network"] = [network_label(model, name, splits[name]) if name in splits else name
                            for model, name in zip(frame["model"], frame["network"])]
    return frame


def run_lines(records: pd.DataFrame) -> list[str]:
    """One line per run of the benchmark in ``records``: when, at which commit, what it measured, how long and
    under which load; a file whose runs were made on different CPUs is refused (a table shows one CPU)."""
    runs, ends = _kind(records, "run").to_dict("records"), _kind(records, "end").to_dict("records")
    if len({run["cpu"]["model"] for run in runs}) > 1:
        raise ValueError("the runs were made on different CPUs; a chapter shows one CPU's runs")
    lines = []
    for run, end in zip(runs, ends):
        commit = run["git_commit"].split("+")[0][:12]
        dirty = " with uncommitted changes" if run["git_commit"].endswith("+dirty") else ""
        arguments = run["arguments"]
        left = f"; left out: {end['left_out']}" if isinstance(end.get("left_out"), str) else ""
        lines.append(f"{run['date'][:10]}, code at commit {commit}{dirty}: {', '.join(arguments.get('parts', ['all parts']))} "
                     f"for {arguments['models']} at widths {arguments['widths']}, {end['seconds'] / 60:.0f} minutes, "
                     f"load average {run['load_at_start'][0]:.1f} at the start and {end['load_at_end'][0]:.1f} at the "
                     f"end{left}")
    return lines


def _kind(records: pd.DataFrame, kind: str) -> pd.DataFrame:
    if records.empty:
        return records
    return records[records["kind"] == kind].dropna(axis=1, how="all")


def latency_ratios(records: pd.DataFrame) -> pd.DataFrame:
    """Every network's median latency and MACs over the baseline's, measured in the same group, and
    their quotient (``time / MACs``; at most :data:`TARGET` meets the target)."""
    latency = _kind(records, "latency").astype({"threads": int, "input_size": int})
    if "load_1min" in latency:
        run = records[records["kind"] == "run"]
        latency["disturbed"] = mark_disturbed(latency, int(run["cpus"].iloc[0]) if "cpus" in run else 2)
    keys = ["engine", "lowering", *COMPARED]
    base = latency[latency["network"] == "baseline"][keys + ["median_ms", "macs"]]
    table = latency.merge(base, on=keys, suffixes=("", "_baseline"))
    table["latency ratio"] = table["median_ms"] / table["median_ms_baseline"]
    table["MACs ratio"] = table["macs"] / table["macs_baseline"]
    table["time / MACs"] = table["latency ratio"] / table["MACs ratio"]
    table["target met"] = table["time / MACs"] <= TARGET
    return table


def quotient_display(table: pd.DataFrame):
    """A table of time / MACs quotients as shown: two decimals, those above :data:`TARGET` in bold red."""
    return table.style.format("{:.2f}").map(lambda v: "" if v <= TARGET else "color: #b00; font-weight: bold")


SPREAD_LIMIT = 1.3
"""A network whose 90th-percentile latency lies more than this multiple above its 10th was disturbed."""


COMPARED = ["model", "width_multiplier", "input_size", "threads", "precision"]
"""What the networks a latency ratio compares share: they were timed together, interleaved."""


def disturbed(results: list[dict], load: float, cores: int) -> bool:
    """One noise rule for passes and misses alike: networks compared with each other (:data:`COMPARED`) were
    disturbed when the load average exceeded the cores, or some network's p90 latency lies more than
    :data:`SPREAD_LIMIT` above its p10."""
    return load > cores or any(r["p90_ms"] > SPREAD_LIMIT * r["p10_ms"] for r in results)


def mark_disturbed(latency: pd.DataFrame, cores: int) -> pd.Series:
    """Per latency row, whether the networks it is compared with were disturbed (:func:`disturbed`)."""
    keys = ["engine", *COMPARED]
    flags = {key: disturbed(group.to_dict("records"), group["load_1min"].max(), cores)
             for key, group in latency.groupby(keys)}
    return pd.Series([flags[key] for key in zip(*(latency[k] for k in keys))], index=latency.index, dtype=bool)


def slower(ratios: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`latency_ratios` slower than their unsplit network beyond the spread of the runs: their
    fastest tenth of invocations lies above the unsplit network's median."""
    return ratios[(ratios["network"] != "baseline") & (ratios["p10_ms"] > ratios["median_ms_baseline"])]


def network_named(model: str, label: str):
    """The network of :data:`NETWORKS` that tables call ``label`` on ``model`` (see :func:`network_label`)."""
    return next(n for n in NETWORKS if network_label(model, n.name, n.split) == label)


def explained(ratios: pd.DataFrame) -> pd.DataFrame:
    """The split networks whose time the stage benchmark explains: those :func:`slower` than their unsplit
    network, and those missing the target (:data:`TARGET`, float32 at the largest width)."""
    split = ratios[(ratios["network"] != "baseline") & ~ratios["network"].str.startswith("thin")]
    full = (split["precision"] == "float32") & (split["width_multiplier"] == ratios["width_multiplier"].max())
    return split[split.index.isin(slower(split).index) | (full & ~split["target met"])]


def stage_table(stages: pd.DataFrame, ratios: pd.DataFrame) -> pd.DataFrame:
    """Per split network timed stage by stage: each stage's time over the unsplit network's stage, each alone in
    the form the network was exported in, all interleaved (``stages``: records of kind "stage"); the same
    quotient for the sum of the stages, and for the whole network and its MACs as they were timed (``ratios``:
    rows of :func:`latency_ratios`)."""
    keys = [*COMPARED, "network"]
    chosen = stages[stages["chosen"]].pivot_table(index=keys, columns="stage", values="median_ms")
    unsplit = chosen.xs("baseline", level="network")
    rows = {}
    for key, times in chosen.drop(index="baseline", level="network").iterrows():
        base = unsplit.loc[key[:-1]]
        measured = select(ratios, **dict(zip(keys, key)))
        rows[key] = {**(times / base).dropna().to_dict(), "stages": times.sum() / base.sum(),
                     "network": measured["latency ratio"], "MACs": measured["MACs ratio"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = keys
    return table


def peak_rates(records: pd.DataFrame) -> pd.Series:
    """The engine's best measured multiply-accumulate rate (MACs per second), by precision and thread count."""
    peak = _kind(records, "peak")
    if "precision" not in peak:  # measured once, in float32, before precisions were told apart
        peak = peak.assign(precision="float32")
    return peak.astype({"threads": int}).groupby(["precision", "threads"])["macs_per_second"].max()


def with_bound(latency: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Latency rows with their bound: the longer of the MACs at the engine's peak rate (for the precision, float16
    weights running in float32, and thread count) and the file's bytes at the measured memory bandwidth (ms),
    and the share of that bound the network reached."""
    rates = peak_rates(records)
    timed = latency["precision"].replace("float16", "float32")
    rate = [rates.get((precision, threads), float("nan")) for precision, threads in zip(timed, latency["threads"])]
    compute = latency["macs"] / pd.Series(rate, index=latency.index) * 1e3
    bandwidth = _kind(records, "bandwidth")
    moved = latency["bytes"] / bandwidth["bytes_per_second"].max() * 1e3 if "bytes" in latency and not bandwidth.empty \
        else compute * 0
    bound = pd.concat([compute, moved], axis=1).max(axis=1)
    return latency.assign(**{"bound ms": bound, "share of bound": bound / latency["median_ms"],
                             "bound by": (compute >= moved).map({True: "MACs", False: "bytes"})})


DEPLOYED = {"vgg16": "proposed_I", "resnet18": "naive split"}
"""Per model, the split whose unsplit network thinned to the same MACs the study trained and times."""

DEPLOYMENTS = {"unsplit": ("baseline", "float32"), "int8 alone": ("baseline", "int8"), "split alone": ("split", "float32"),
               "split + int8": ("split", "int8"), "thin, same MACs": ("thin", "float32"), "thin + int8": ("thin", "int8")}
"""What a deployer can pick, as (network, precision): ``split`` is :data:`DEPLOYED`, ``thin`` its thinned twin."""


def deployment_table(latency: pd.DataFrame, model: str, width: float, accuracy: pd.Series) -> pd.DataFrame:
    """Each of :data:`DEPLOYMENTS` of ``model`` at ``width``: its latency over the unsplit float32 network's,
    by input size and threads (measured in one group), and the test accuracy (%) ``accuracy`` gives its network."""
    split = DEPLOYED[model]
    studied = {"baseline": "baseline", "split": split, "thin": f"thin: MACs of {split}"}
    names = {**studied, "split": network_label(model, split, next(n.split for n in NETWORKS if n.name == split))}
    rows = latency[(latency["model"] == model) & (latency["width_multiplier"] == width)]
    keys = ["input_size", "threads"]
    base = rows[(rows["network"] == "baseline") & (rows["precision"] == "float32")].set_index(keys)["median_ms"]
    table = {}
    for label, (network, precision) in DEPLOYMENTS.items():
        chosen = rows[(rows["network"] == names[network]) & (rows["precision"] == precision)].set_index(keys)
        ratio = chosen["median_ms"] / base
        table[label] = {f"{size}px, {threads}t": value for (size, threads), value in ratio.items()}
        table[label]["test accuracy % (float32)"] = accuracy.get(studied[network], float("nan"))
    return pd.DataFrame(table).T


def size_table(records: pd.DataFrame) -> pd.DataFrame:
    """File size in MiB of each network's exported model at the largest width, one column per precision."""
    sizes = _kind(records, "size")
    sizes = sizes[sizes["width_multiplier"] == sizes["width_multiplier"].max()]
    table = in_network_order(sizes.pivot_table(index=["model", "network"], columns="precision", values="bytes") / 2**20)
    return table[[p for p in ("float32", "float16", "int8") if p in table.columns]]


def accuracy_table(records: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) of the trained networks, in Keras and exported at each precision."""
    accuracy = _kind(records, "accuracy")
    table = accuracy.pivot_table(index=["model", "network"], columns="precision", values="accuracy") * 100
    return table[[p for p in ("keras", "float32", "float16", "int8") if p in table.columns]]


def memory_table(records: pd.DataFrame) -> pd.DataFrame:
    """Peak memory of the inference process per network and input size (MiB), over the baseline's, and
    what remains of the engine's peak after twice the float32 file (the mapped file and its packed weights)."""
    memory = _kind(records, "memory").astype({"input_size": int})
    memory["engine peak MiB"] = memory["engine_peak_bytes"] / 2**20
    memory["process peak MiB"] = memory["peak_rss_bytes"] / 2**20
    memory["invoke growth MiB"] = memory["invoke_growth_bytes"] / 2**20
    keys = ["lowering", "model", "input_size"]
    base = memory[memory["network"] == "baseline"][keys + ["engine peak MiB"]]
    memory = memory.merge(base, on=keys, suffixes=("", " baseline"))
    memory["vs baseline"] = memory["engine peak MiB"] / memory["engine peak MiB baseline"]
    files = size_table(records)["float32"].rename("file MiB").reset_index()
    memory = memory.merge(files, on=["model", "network"])
    memory["engine peak - 2 x file MiB"] = memory["engine peak MiB"] - 2 * memory["file MiB"]
    columns = ["process peak MiB", "engine peak MiB", "invoke growth MiB", "vs baseline", "file MiB",
               "engine peak - 2 x file MiB"]
    return memory.set_index(["model", "input_size", "network"])[columns]


def layer_rates(records: pd.DataFrame) -> pd.DataFrame:
    """Multiply-accumulate rate (GMAC/s) of the single grouped convolution, by groups and input size."""
    layers = _kind(records, "layer").astype({"input_size": int, "groups": int})
    return layers.pivot_table(index="groups", columns="input_size", values="macs_per_second") / 1e9
