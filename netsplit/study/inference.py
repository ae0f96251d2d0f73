"""The inference study: the networks timed on an inference engine, and the tables the chapter shows
from the records ``benchmarks/inference.py`` writes (one JSON object per line, each with a ``kind``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from netsplit.records import read_lines
from netsplit.runtime import SOURCE_ROOT, project_root
from netsplit.study.chapters import control_name, network_label, paper_networks

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
    named as :func:`~netsplit.study.chapters.network_label` names it."""
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
    studied = {"baseline": "baseline", "split": split, "thin": control_name("MACs", split)}
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


KINDS = {"run", "peak", "bandwidth", "size", "latency", "memory", "layer", "accuracy", "end"}
"""The kinds of record a complete run of ``benchmarks/inference.py`` writes."""


@dataclass(frozen=True)
class Timings:
    """One measurement file as the chapter reads it: its records, the run that wrote them, and the latency
    ratios (with their bound) on LiteRT, in float32, and at the largest width (each selection made once)."""

    records: pd.DataFrame
    ratios: pd.DataFrame

    @cached_property
    def run(self) -> pd.Series:
        return self.records[self.records["kind"] == "run"].iloc[0]

    @cached_property
    def engine_name(self) -> str:
        return f"LiteRT {self.run['engine_versions'].get('ai-edge-litert', '')} (XNNPACK)"

    @cached_property
    def litert(self) -> pd.DataFrame:
        """LiteRT's rows, each marked ``split`` where its network is split (not the baseline nor a thin one)."""
        litert = self.ratios[self.ratios["engine"] == "litert-xnnpack"]
        return litert.assign(split=(litert["network"] != "baseline") & ~litert["network"].str.startswith("thin"))

    @cached_property
    def every_split(self) -> pd.DataFrame:
        """LiteRT's rows of split networks, at every width and precision."""
        return self.litert[self.litert["split"]]

    @cached_property
    def float32(self) -> pd.DataFrame:
        return self.litert[self.litert["precision"] == "float32"]

    @cached_property
    def full(self) -> pd.DataFrame:
        """float32 rows at the largest width."""
        return self.float32[self.float32["width_multiplier"] == self.float32["width_multiplier"].max()]

    @cached_property
    def splits(self) -> pd.DataFrame:
        """float32 rows of split networks at the largest width."""
        return self.full[self.full["split"]]


def read_timings(path: str | Path) -> Timings:
    """The measurements in ``path`` (see :func:`locate`); FileNotFoundError where the run is incomplete."""
    records = read_results(locate(path))
    if records.empty or not KINDS <= set(records["kind"]):
        raise FileNotFoundError(f"no complete measurements in {path}: run python benchmarks/inference.py")
    return Timings(records, with_bound(latency_ratios(records), records))


def machine_text(timings: Timings) -> str:
    """Where and with what the measurements ran, in Markdown, with the caution that ratios are this CPU's."""
    run, cpu = timings.run, timings.run["cpu"]
    return (f"Measured on **{cpu['model']}** ({', '.join(cpu['flags'])}; {cpu['mhz']:.0f} MHz as the kernel reports "
            f"it; {cpu['cores']} cores) with {timings.engine_name}, TensorFlow {run['engine_versions']['tensorflow']} "
            f"and Keras {run['versions'].get('keras', '?')}, in these runs of `benchmarks/inference.py`:\n\n"
            + "\n".join(f"- {line}" for line in run_lines(timings.records))
            + "\n\nInputs are random images (no data set) except in the accuracy table. Every ratio below was "
            "measured on this one CPU: another processor (an Intel Xeon with AMX, say, whose int8 and bfloat16 "
            "kernels differ) can order the networks differently, so none of them is a law.")


def deployment_facts(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The numbers the text quotes from VGG16's :func:`deployment_table`: each choice's latency ratio at 32 and
    224 pixels on one thread, and the accuracies."""
    vgg = tables["vgg16"]
    labels = {"int8": "int8 alone", "split": "split alone", "split_int8": "split + int8",
              "thin": "thin, same MACs", "thin_int8": "thin + int8"}
    facts = {f"deploy_{key}{suffix}": float(vgg.loc[label, column]) for key, label in labels.items()
             for suffix, column in (("", "32px, 1t"), ("_224", "224px, 1t"))}
    accuracy = "test accuracy % (float32)"
    return facts | {"deploy_split_acc": float(vgg.loc["split alone", accuracy]),
                    "deploy_thin_acc": float(vgg.loc["thin, same MACs", accuracy]),
                    "deploy_base_acc": float(vgg.loc["unsplit", accuracy])}


def peak_facts(timings: Timings) -> dict[str, float]:
    """The engine's peak rates (GMAC/s) by precision and threads, and the memory bandwidth (GB/s)."""
    rates = peak_rates(timings.records)
    facts = {f"peak_{precision.replace('float', 'f')}_{threads}": float(rates.get((precision, threads), float("nan")) / 1e9)
             for precision in ("float32", "int8") for threads in (1, 2)}
    bandwidth = _kind(timings.records, "bandwidth")["bytes_per_second"].max()
    return facts | {"bandwidth": float(bandwidth / 1e9)}


def target_facts(timings: Timings) -> dict[str, float]:
    """proposed_I's times and ratios at 32 pixels on one thread, and how many split networks meet :data:`TARGET`."""
    p1 = select(timings.full, model="vgg16", network="proposed_I", input_size=32, threads=1)
    return {"target": TARGET, "vgg_p1_ms": float(p1["median_ms"]), "vgg_base_ms": float(p1["median_ms_baseline"]),
            "vgg_p1_latency": float(p1["latency ratio"]), "vgg_p1_macs": float(p1["MACs ratio"]),
            "met": int(timings.splits["target met"].sum()), "cases": len(timings.splits)}


def quotient_table(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``time / MACs`` of ``rows`` per model and network, one column per combination of ``columns``."""
    table = rows.pivot_table(index=["model", "network"], columns=columns, values="time / MACs")
    names = {"width_multiplier": "x{:g}", "input_size": "{}px", "threads": "{}t"}
    table.columns = [", ".join(names[c].format(v) for c, v in zip(columns, key if len(columns) > 1 else (key,)))
                     for key in table.columns]
    return in_network_order(table)


def narrow_splits(timings: Timings) -> pd.DataFrame:
    """float32 split rows below the largest width."""
    float32 = timings.float32
    return float32[float32["split"] & (float32["width_multiplier"] < float32["width_multiplier"].max())]


def worst_table(timings: Timings) -> pd.DataFrame:
    """Per split network, its largest latency ratio at each width and precision."""
    worst = timings.every_split.pivot_table(index=["model", "network"], columns=["width_multiplier", "precision"],
                              values="latency ratio", aggfunc="max")
    worst.columns = [f"x{width:g}, {precision}" for width, precision in worst.columns]
    return in_network_order(worst)


def slower_text(timings: Timings) -> tuple[str, dict[str, int]]:
    """The split networks :func:`slower` than their unsplit network, in Markdown, and how many of how many."""
    rows = slower(timings.every_split)
    facts = {"slower": len(rows), "slower_cases": len(timings.every_split)}
    if rows.empty:
        return "No split network is slower than its unsplit network beyond the spread of the runs.", facts
    return "Slower beyond the spread of the runs, with the form each block was exported in:\n\n" + "\n".join(
        f"- {r['model']} {r['network']}, x{r['width_multiplier']:g}, {r['precision']}, {r['input_size']}px, "
        f"{r['threads']} thread(s): {r['latency ratio']:.2f} of the unsplit time for {r['MACs ratio']:.2f} of its "
        f"MACs; blocks {', '.join(f'{b} {form}' for b, form in r['chosen_lowering'].items()) or 'none split'}"
        for _, r in rows.iterrows()), facts


def missed_text(timings: Timings) -> tuple[str, dict[str, int]]:
    """The full-width split networks that miss :data:`TARGET`, in Markdown, and the counts the text quotes."""
    missed = timings.splits[~timings.splits["target met"]].sort_values("time / MACs", ascending=False)
    litert = timings.litert
    facts = {"missed": len(missed), "missed_disturbed": int(missed["disturbed"].sum()),
             "disturbed_groups": int(litert.groupby(COMPARED)["disturbed"].any().sum()),
             "compared_groups": litert.groupby(COMPARED).ngroups}
    if missed.empty:
        return "Every split network meets the target at full width.", facts
    return "\n".join(
        f"- {r['model']} {r['network']}, {r['input_size']}x{r['input_size']}, {r['threads']} thread(s): "
        f"latency ratio {r['latency ratio']:.2f} for a MACs ratio of {r['MACs ratio']:.2f} "
        f"({r['time / MACs']:.2f}x){' (disturbed group)' if r['disturbed'] else ''}"
        for _, r in missed.iterrows()), facts


def layer_facts(rates: pd.DataFrame) -> dict[str, float]:
    """The grouped convolution's rate with 4 and 8 groups over one group, at the largest input (:func:`layer_rates`)."""
    size = int(rates.columns.max())
    return {"layer_size": size, "layer_rate_4": float(rates.loc[4, size] / rates.loc[1, size]),
            "layer_rate_8": float(rates.loc[8, size] / rates.loc[1, size])}


def stage_facts(stages: pd.DataFrame | None, timings: Timings, models) -> dict[str, object]:
    """Per model, its dearest and cheapest stage over the networks :func:`explained` (their names, and the least
    and most of their quotients; "none" and NaN without ``stages``), the same range for the sums, and how many
    networks were explained."""
    facts: dict[str, object] = {}
    for model in models:
        rows = stages.xs(model, level="model") if stages is not None and model in stages.index.unique("model") else None
        blocks = None if rows is None else rows.drop(columns=["stages", "network", "MACs"]).dropna(axis=1, how="all")
        columns = {"dearest": None if rows is None else blocks.mean().idxmax(),
                   "cheapest": None if rows is None else blocks.mean().idxmin(),
                   "stages": "stages", "network": "network", "macs": "MACs"}
        for name, column in columns.items():
            if name in ("dearest", "cheapest"):
                facts[f"{model}_{name}"] = column or "none"
            for end, pick in (("lo", min), ("hi", max)):
                facts[f"{model}_{name}_{end}"] = float(pick(rows[column])) if rows is not None else float("nan")
    explained_rows = explained(timings.litert)
    return facts | {"explained_rows": len(explained_rows), "explained_disturbed": int(explained_rows["disturbed"].sum())}


def engine_table(timings: Timings) -> tuple[pd.DataFrame, dict[str, float]]:
    """Each engine's median time and latency ratio at 32 pixels, float32, the largest width (LiteRT at its most
    threads), and the times the text quotes."""
    ratios = timings.ratios
    small = ratios[(ratios["input_size"] == 32) & (ratios["width_multiplier"] == ratios["width_multiplier"].max())
                   & (ratios["precision"] == "float32")]
    small = small[((small["engine"] != "litert-xnnpack") | (small["threads"] == small["threads"].max()))
                  & (small["engine"] != "keras predict")]
    table = small.pivot_table(index=["model", "network"], columns="engine", values=["median_ms", "latency ratio"])
    tf_p1 = select(small, model="vgg16", network="proposed_I", engine="tensorflow")
    lite_base = select(small, model="vgg16", network="baseline", engine="litert-xnnpack")
    return in_network_order(table), {"tf_p1_latency": float(tf_p1["latency ratio"]),
                                     "tf_base_ms": float(tf_p1["median_ms_baseline"]),
                                     "lite_base_ms_2": float(lite_base["median_ms"])}


def share_table(timings: Timings) -> tuple[pd.DataFrame, dict[str, float]]:
    """The share of its bound each network reached at the largest width, in float32 and int8, and the counts
    the text quotes."""
    litert = timings.litert
    engine = litert[(litert["width_multiplier"] == litert["width_multiplier"].max())
                    & litert["precision"].isin(["float32", "int8"])]
    share = engine.pivot_table(index=["model", "network"], columns=["precision", "input_size", "threads"],
                               values="share of bound")
    share.columns = [f"{precision}, {size}px, {threads}t" for precision, size, threads in share.columns]
    base = select(timings.full, model="vgg16", network="baseline", input_size=32, threads=1)["share of bound"]
    return in_network_order(share), {"vgg_base_share": float(100 * base),
                                     "share_above": int((litert["share of bound"] > 1).sum()),
                                     "share_cases": len(litert)}


def accuracy_text(records: pd.DataFrame) -> str:
    """What the accuracy table's networks were trained on, in Markdown."""
    facts = records[records["kind"] == "accuracy"].iloc[0]
    return (f"Accuracy needs trained networks: the baseline and proposed_I VGG16 at width x{facts['width_multiplier']:g}, "
            f"trained for {facts['epochs']:.0f} epochs on {facts['train_size']:,.0f} Fashion-MNIST images and tested on "
            f"{facts['test_size']:,.0f} (test accuracy, %):")


def memory_facts(memory: pd.DataFrame) -> dict[str, float]:
    """proposed_I's memory at its largest input over the unsplit network's, and the spread the text quotes."""
    largest = memory.reset_index().query("model == 'vgg16' and network == 'proposed_I'").sort_values("input_size").iloc[-1]
    rest = memory["engine peak - 2 x file MiB"].groupby(level=["model", "input_size"])
    return {"mem_size": int(largest["input_size"]), "mem_ratio": float(largest["vs baseline"]),
            "invoke_growth_max": float(memory["invoke growth MiB"].max()),
            "arena_spread": float((rest.max() - rest.min()).max())}
