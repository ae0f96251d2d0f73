"""What the chapters call: the paper's comparison networks and their seeds, their training and tables, and
where the results came from."""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from functools import partial
from itertools import chain
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from netsplit.complexity import analyse, total
from netsplit.complexity import network_costs
from netsplit.search.config import SearchConfig, changes_nothing
from netsplit.data import Dataset
from netsplit.errors import InputError
from netsplit.choices import MODELS
from netsplit.models import PRESETS, build_model, split_model
from netsplit.records import RecordsLock, RecordStore, RunRecord, config_hash, read_lines, read_records
from netsplit.runtime import SOURCE_ROOT, project_root  # noqa: F401  (notebooks find results/ through it)
from netsplit.search.rule import BlockOutcome, SearchResult, outcome_rows, searched_records, selection_accuracy
from netsplit.stages import stages
from netsplit.train import TrainConfig, train_network

MEMORY_NETWORKS = {"original": (1, 1, 1, 1, 1), "proposed_I": PRESETS["proposed_I"], "all 8": (8, 8, 8, 8, 8)}
"""The networks whose activation memory is measured (``benchmarks/memory.py``), by name."""
PAPER_NAMES = tuple(PRESETS)
"""The names the paper gives to two VGG16 splits, and to nothing else."""


def network_label(model: str, name: str, split: Sequence[int]) -> str:
    """How tables name a network: the paper's name on VGG16; on another model those splits by their factors."""
    return ",".join(map(str, split)) if name in PAPER_NAMES and model != "vgg16" else name


@dataclass(frozen=True)
class ComparisonNetwork:
    """One network of a comparison table: a name, a variant, its split or branch count, and what each
    branch's first convolution reads (see :class:`~netsplit.layers.SplitBlock`)."""

    name: str
    variant: str = "proposed"
    split: tuple[int, ...] = (1, 1, 1, 1, 1)
    factor: int = 4
    first_conv: str = "whole"
    width_multiplier: float | None = None  # its own (a thin control's), instead of the study's

    def build(self, model: str, **options) -> keras.Model:
        """This network of ``model`` (``options``, e.g. ``width_multiplier``, go to :func:`build_model`)."""
        if self.width_multiplier is not None:
            options = {**options, "width_multiplier": self.width_multiplier}
        if self.variant == "proposed":
            return build_model(model, self.variant, self.split, first_conv=self.first_conv, **options)
        return build_model(model, self.variant, factor=self.factor, first_conv=self.first_conv, **options)


def paper_networks(found: tuple[int, ...]) -> list[ComparisonNetwork]:
    """The networks of the paper's Table 2, proposed_I under the second reading of its split blocks
    (each branch's first convolution reads its share of the block input), and the split our search found."""
    return [
        ComparisonNetwork("baseline"),
        ComparisonNetwork("proposed_I", split=PRESETS["proposed_I"]),
        ComparisonNetwork("proposed_I, input split", split=PRESETS["proposed_I"], first_conv="share"),
        ComparisonNetwork("proposed_II", split=PRESETS["proposed_II"]),
        ComparisonNetwork("naive split", "naive", factor=4),
        ComparisonNetwork("shared split", "shared", factor=4),
        ComparisonNetwork("found by search", split=tuple(found)),
    ]


CONTROLS = {"vgg16": ("proposed_I", "found by search", "shared split"), "resnet18": ("found by search", "naive split")}
"""The split networks that get thin controls: unsplit networks narrowed to their parameters, and to their MACs."""
COSTS = ("params", "macs")


def matched_width(model: str, cost: str, target: int, width: float, input_shape: tuple[int, int, int]) -> float:
    """The width multiplier (at most ``width``, in steps of 1/1024) at which unsplit ``model`` costs closest to
    ``target`` parameters or MACs (``cost``)."""
    def counted(multiplier: float) -> int:
        return network_costs(model, None, multiplier, input_shape)[COSTS.index(cost)]

    low, high = 1, round(width * 1024)
    while high - low > 1:  # the cost grows with the width: bisect for the last multiplier below the target
        middle = (low + high) // 2
        low, high = (middle, high) if counted(middle / 1024) <= target else (low, middle)
    return min((low / 1024, high / 1024), key=lambda m: abs(counted(m) - target))


def control_name(label: str, network: str) -> str:
    """The name of ``network``'s thin control matched on ``label`` ("parameters" or "MACs").

    >>> control_name("MACs", "proposed_I")
    'thin: MACs of proposed_I'
    """
    return f"thin: {label} of {network}"


def thin_controls(model: str, networks: list[ComparisonNetwork], width: float,
                  input_shape: tuple[int, int, int]) -> list[ComparisonNetwork]:
    """For each of ``model``'s :data:`CONTROLS` among ``networks``: the unsplit network made thinner to its
    parameters, and to its MACs (named "thin: parameters of proposed_I" and so on)."""
    controls = []
    for network in networks:
        if network.name not in CONTROLS[model]:
            continue
        built = network.build(model, input_shape=input_shape, width_multiplier=width, implementation="branches")
        for cost in COSTS:
            target = getattr(total(analyse(built)), cost)
            thin = matched_width(model, cost, target, width, input_shape)
            label = "parameters" if cost == "params" else "MACs"
            controls.append(ComparisonNetwork(control_name(label, network.name), width_multiplier=thin))
    return controls


STUDY_WIDTHS = {"vgg16": 0.25, "resnet18": 0.125}
"""The width multiplier each model's study trains at (the published profile's), by model."""

MODEL_NETWORKS = {
    "vgg16": ("baseline", "proposed_I", "proposed_I, input split", "proposed_II", "naive split", "shared split",
              "found by search"),
    "resnet18": ("baseline", "naive split", "found by search"),
}
"""The networks each model's search chapter compares, by name (its text: ``notebooks/search.yml``)."""


def comparison_networks(model: str, found: tuple[int, ...] | None = None,
                        names: list[str] | None = None) -> list[ComparisonNetwork]:
    """The networks the paper compares for ``model`` (:data:`MODEL_NETWORKS`), or those of them
    ``names`` picks (the baseline and the split a search found always), with the split a search found,
    or without that network when ``found`` is None."""
    by_name = {network.name: network for network in paper_networks(found or ())}
    known = MODEL_NETWORKS[model]
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise InputError(f"{model} has no comparison network {unknown}; its networks are {', '.join(known)}")
    chosen = [name for name in known if names is None or name in (*names, "baseline", "found by search")]
    return [by_name[name] for name in chosen if found is not None or name != "found by search"]


def cost_table(models: tuple[str, ...] = MODELS, input_size: int = 32) -> pd.DataFrame:
    """Parameters, MACs and activation memory (float32, batch 1) of each model's comparison networks,
    counted from the built models; one row per (model, network)."""
    rows = []
    for model in models:
        for network in comparison_networks(model):
            cost = total(analyse(network.build(model), input_size))
            rows.append({"model": model, "network": network.name, "parameters": cost.params,
                         "MMACs": round(cost.macs / 1e6, 1),
                         "memory layer by layer (KiB)": cost.memory_layerwise / 1024,
                         "memory branch by branch (KiB)": cost.memory_branchwise / 1024})
    costs = pd.DataFrame(rows).set_index(["model", "network"])
    baseline = costs.groupby(level="model")["parameters"].transform("first")
    costs.insert(1, "parameters vs baseline", (costs["parameters"] / baseline).round(3))
    return costs


def block_costs(model: str, names: tuple[str, ...], input_size: int = 32) -> pd.DataFrame:
    """Parameters and MACs of every block of the named comparison networks of ``model``, one row per
    (network, block)."""
    by_name = {network.name: network for network in comparison_networks(model)}
    return pd.DataFrame([
        {"network": name, "block": cost.block, "parameters": cost.params, "MACs": cost.macs}
        for name in names for cost in analyse(by_name[name].build(model), input_size)
    ])


def parameter_shares(model: str, split: tuple[int, ...], width_multiplier: float = 1.0) -> pd.DataFrame:
    """Where a split network's parameters are, block by block (and head), against the unsplit network:
    the factor, both counts (BN and fusion included), the fusion's part, the first convolution's kernel
    (which every branch reads in full), the fraction of the block kept, and each block's share of the
    unsplit and of the split network."""
    unsplit = {cost.block: cost.params for cost in analyse(split_model(model, None, width_multiplier=width_multiplier))}
    network = split_model(model, split, width_multiplier=width_multiplier)
    counted = {cost.block: cost.params for cost in analyse(network)}
    parts = stages(network)
    blocks = {stage.name: stage.block for stage in parts}
    fusions = {stage.name: stage.fusion.count_params() for stage in parts if stage.fusion}
    frame = pd.DataFrame({
        "factor": {name: block.factor for name, block in blocks.items()},
        "unsplit": unsplit,
        "split": counted,
        "of which fusion": {name: fusions.get(name, 0) for name in counted},
        "first conv": {name: block.in_channels * block.unit_specs[0].width * block.unit_specs[0].kernel**2
                       for name, block in blocks.items()},
    })
    frame.index.name = "block"
    frame["factor"] = frame["factor"].astype("Int64")
    frame["kept"] = frame["split"] / frame["unsplit"]
    frame["share of unsplit"] = frame["unsplit"] / frame["unsplit"].sum()
    frame["share of split"] = frame["split"] / frame["split"].sum()
    return frame


def share_facts(shares: pd.DataFrame) -> dict[str, float]:
    """What the text quotes of :func:`parameter_shares`: the share of parameters the split keeps, the fusions'
    parameters, and the last two blocks' share of the unsplit network and what the split keeps of them."""
    late = shares.loc[["block4", "block5"]]
    return {"proposed_I_kept": float(shares["split"].sum() / shares["unsplit"].sum()),
            "fusion_params": int(shares["of which fusion"].sum()),
            "late_share": float(late["unsplit"].sum() / shares["unsplit"].sum()),
            "late_kept": float(late["split"].sum() / late["unsplit"].sum())}


def held_out_facts() -> dict[str, object]:
    """Which profile the book publishes, how many training images it holds out to decide on, and the profiles
    that decide on the test set instead (no images held out)."""
    from netsplit.study.reproduce import chapter_parameters, load_profiles

    profiles = load_profiles()
    held_out = {name: chapter_parameters("vgg16", name).get("validation_size") for name in profiles if name != "published"}
    on_test = [name for name, size in held_out.items() if not size]
    published = profiles["published"]["profile"]
    return {"published_profile": published, "published_validation": held_out[published],
            "test_set_profiles": " and ".join([", ".join(on_test[:-1]), on_test[-1]] if len(on_test) > 1 else on_test)}


def counted_memory(networks: dict[str, tuple[int, ...]], sizes: list[int],
                   models: tuple[str, ...] = MODELS) -> pd.DataFrame:
    """Peak activation memory (MiB, float32, batch 1) of each split network of each model at each square
    input size, layer by layer and branch by branch, counted from the models; one row per case."""
    rows = []
    for model in models:
        for name, factors in networks.items():
            built = build_model(model, "proposed", factors)
            for size in sizes:
                cost = total(analyse(built, size))
                for execution, peak in (("layer by layer", cost.memory_layerwise),
                                        ("branch by branch", cost.memory_branchwise)):
                    rows.append({"model": model, "network": network_label(model, name, factors),
                                 "input size": size, "execution": execution,
                                 "peak MiB": peak / 2**20})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FinalConfig:
    """How the comparison networks are trained: from scratch, ``epochs`` each, ``seeds`` times, or as many
    times as ``network_seeds`` gives for a network by name (where a verdict needs more seeds)."""

    search: SearchConfig
    epochs: int = 10
    seeds: int = 1
    network_seeds: dict[str, int] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Key of the records file: the search's training settings and the epochs (not the seed count, nor
        the fine-tuning learning rate, which these networks, trained from scratch, never use)."""
        training = {k: v for k, v in self.search.training.items() if k != "finetune_learning_rate"}
        return config_hash({"search": training, "epochs": self.epochs})

    def seed_range(self, name: str) -> range:
        """The seeds the network called ``name`` trains with."""
        return range(self.search.seed, self.search.seed + self.network_seeds.get(name, self.seeds))

    def key(self, network: ComparisonNetwork) -> tuple:
        """What finds ``network``'s records: its name, split and width (a thin control's own, else the study's)."""
        return network.name, tuple(network.split), network.width_multiplier or self.search.width_multiplier

    def records_path(self, folder: str | Path) -> Path:
        """``<folder>/<model>-<dataset>-<hash>-networks.jsonl``."""
        return Path(folder) / f"{self.search.model}-{self.search.dataset}-{self.hash}-networks.jsonl"


def searched_twin(config: FinalConfig, network: ComparisonNetwork, seed: int, searched: Sequence[RunRecord]) -> RunRecord | None:
    """The search's record of this very network, when the search trained it from scratch exactly as a
    comparison network is trained (its unsplit baseline, same seed and epochs), as a comparison record."""
    if network.variant != "proposed" or network.first_conv != "whole":
        return None
    for record in searched:
        if (record.config_hash, record.role, record.seed, tuple(record.split), record.epochs) == (
                config.search.hash, "baseline", seed, network.split, config.epochs):
            return replace(record, experiment=network.name, config_hash=config.hash, role="final", block=None,
                           factor=network.factor)
    return None


def named_twin(config: FinalConfig, network: ComparisonNetwork, seed: int, networks: list[ComparisonNetwork],
               store: RecordStore) -> RunRecord | None:
    """The record of this very network trained under another of ``networks``' names (a thin control matched
    to parameters and one matched to MACs can come out at the same width), under this one's name."""
    for other in networks:
        if other != network and replace(other, name=network.name) == network:
            for record in store.find(seed=seed):
                if record_key(record) == config.key(other):
                    return replace(record, experiment=network.name)
    return None


def train_networks(config: FinalConfig, networks: list[ComparisonNetwork], records: str | Path,
                   data: Dataset | None = None, data_path: str | None = None,
                   searched: Sequence[RunRecord] = (), train: bool = True) -> list[RunRecord]:
    """Train each network with each seed, skipping those already in ``records`` (so a re-run resumes) and
    copying those the search already trained the same way (``searched``: its records), or that ``networks`` hold
    under another name, instead of repeating them.
    With ``train=False`` only the records are read (:func:`untrained` names what they lack)."""
    if not train:
        return _wanted(RecordStore(records, config.hash).records, networks, config)
    with RecordsLock(records):  # one run at a time trains into a records file
        store = RecordStore(records, config.hash)
        data = data or config.search.load_data(data_path)
        for seed, network in training_plan(config, networks):
            if any(record_key(r) == config.key(network) for r in store.find(seed=seed)):
                continue
            twin = searched_twin(config, network, seed, searched) or named_twin(config, network, seed, networks, store)
            store.append(twin or train_comparison(config, network, seed, data))
    return _wanted(store.records, networks, config)


def train_comparison(config: FinalConfig, network: ComparisonNetwork, seed: int, data: Dataset,
                     verbose: bool = True) -> RunRecord:
    """Train one comparison network from scratch with the chapter's recipe, and return its record."""
    s = config.search
    recipe = TrainConfig(epochs=config.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate, verbose=verbose)
    width = network.width_multiplier or s.width_multiplier
    build = partial(network.build, s.model, input_shape=data.input_shape, classes=data.num_classes,
                    width_multiplier=width)
    return train_network(build, data, recipe, seed, label=f"{network.name} seed {seed}", experiment=network.name,
                         config_hash=config.hash, model=s.model, variant=network.variant, split=list(network.split),
                         factor=network.factor, width_multiplier=width, role="final")[1]


def training_plan(config: FinalConfig, networks: list[ComparisonNetwork]) -> list[tuple[int, ComparisonNetwork]]:
    """Each (seed, network) to train: the networks that need the most seeds first (the verdicts they decide come
    first in value), and within such a group seed after seed, so that a run cut short leaves the networks with
    seed counts as even as it can."""
    plan = []
    for count in sorted({len(config.seed_range(n.name)) for n in networks}, reverse=True):
        group = [n for n in networks if len(config.seed_range(n.name)) == count]
        plan += [(seed, network) for seed in config.seed_range(group[0].name) for network in group]
    return plan


def _wanted(records: list[RunRecord], networks: list[ComparisonNetwork], config: FinalConfig) -> list[RunRecord]:
    wanted = {config.key(n): config.seed_range(n.name) for n in networks}
    return [r for r in records if r.seed in wanted.get(record_key(r), ())]


def record_key(record: RunRecord) -> tuple:
    """A comparison network's record as :meth:`FinalConfig.key` finds it."""
    return record.experiment, tuple(record.split), record.width_multiplier


def published_records(model: str) -> list[RunRecord]:
    """The records of ``model``'s comparison networks and thin controls as the published book's chapter trained them."""
    from netsplit.study.reproduce import chapter_parameters

    parameters = chapter_parameters(model)
    config = SearchConfig.from_options(parameters, others=True)
    final = FinalConfig(config, parameters["final_epochs"], parameters["final_seeds"], parameters["network_seeds"])
    return RecordStore(final.records_path(SOURCE_ROOT / parameters["records_dir"]), final.hash).records


def train_command(profile: str, model: str, threshold: float) -> str:
    """The command that trains what ``model``'s chapter lacks, as this run was made: the profile's (naming the
    threshold only where it differs from the profile's), or papermill's for a run made outside a profile."""
    from netsplit.study.reproduce import chapter_parameters, load_profiles

    if profile not in load_profiles() or profile == "published":
        return f"papermill notebooks/search.ipynb out.ipynb -p model {model} -p threshold {threshold:g}"
    own = chapter_parameters(model, profile)["threshold"] == threshold
    return f"make reproduce PROFILE={profile} NOTEBOOKS={model}" + ("" if own else f" THRESHOLD={threshold:g}")


def untrained_note(config: FinalConfig, networks: list[ComparisonNetwork], records: list[RunRecord],
                   command: str) -> str | None:
    """A warning naming each network with seeds ``records`` lack and the ``command`` that trains them (None
    where nothing is lacking), for a chapter shown from its records alone."""
    lacking = untrained(config, networks, records)
    if not lacking:
        return None
    return (f":::{{admonition}} Not trained yet\n:class: warning\nThe records lack {'; '.join(lacking)}: the tables, "
            f"plots and verdicts use the seeds recorded so far, and a network with none is marked \"not trained\". "
            f"`{command}` trains them.\n:::")


def with_untrained(table: pd.DataFrame, networks: list[ComparisonNetwork]) -> pd.DataFrame:
    """``table`` (:func:`comparison_table`) with a row for each of ``networks`` it lacks, its split marked
    "not trained" and every figure missing, for display."""
    absent = [n for n in networks if n.name not in table.index]
    rows = pd.DataFrame({"split": [f"{','.join(map(str, n.split)) if n.variant == 'proposed' else n.variant}: not trained"
                                   for n in absent], "seeds": 0}, index=pd.Index([n.name for n in absent], name=table.index.name))
    return pd.concat([table, rows]) if absent else table


def untrained(config: FinalConfig, networks: list[ComparisonNetwork], records: list[RunRecord]) -> list[str]:
    """Each network with seeds that ``records`` lack, as "name (seeds 1, 2)"."""
    found = {(*record_key(r), r.seed) for r in records}
    lacking = {n.name: [s for s in config.seed_range(n.name) if (*config.key(n), s) not in found] for n in networks}
    return [f"{name} (seed{'s' * (len(s) > 1)} {', '.join(map(str, s))})" for name, s in lacking.items() if s]


def other_searches(config: SearchConfig, changes: list[dict]) -> dict[str, SearchConfig]:
    """The search of ``config`` again with each of ``changes`` (``{"seed": 1}``, ``{"reference": "original"}``),
    by a label naming the change ("seed 1"), or the change's own ``name``; a change of a field the search has not
    is refused."""
    fields = {f.name for f in dataclass_fields(SearchConfig)}
    searches = {}
    for change in changes:
        change = {**change} if isinstance(change, dict) else change
        name = change.pop("name", None) if isinstance(change, dict) else None
        unknown = sorted(set(change) - fields) if isinstance(change, dict) else [change]
        if unknown or not change:
            raise InputError(f"a search to compare changes search settings, e.g. {{'seed': 1}}, not {unknown or change}; "
                             f"settings are {', '.join(sorted(fields))}, and a change may have a name")
        searches[name or ", ".join(f"{key} {value}" for key, value in change.items())] = replace(config, **change)
    return searches


def found_networks(results: dict[str, SearchResult], networks: list[ComparisonNetwork]) -> list[ComparisonNetwork]:
    """A comparison network for each split the searches ``results`` found that no network of ``networks`` has,
    named after its search ("found by search, seed 1")."""
    known = {network.split for network in networks if network.variant == "proposed" and network.first_conv == "whole"}
    found = []
    for label, result in results.items():
        if result.split not in known:
            known.add(result.split)
            found.append(ComparisonNetwork(f"found by search, {label}", split=result.split))
    return found


def paths_table(results: dict[str, SearchResult], comparison: pd.DataFrame) -> pd.DataFrame:
    """Each search's path (the factor it fixed per block), the split it found, and that split's test
    accuracy trained from scratch (mean, sd and seeds, from ``comparison``: a :func:`comparison_table`)."""
    trained = comparison[comparison["split"].str.fullmatch(r"[\d,]+")].drop_duplicates("split").set_index("split")
    rows = []
    for label, result in results.items():
        split = ",".join(map(str, result.split))
        row = {"search": label, **{f"block {o.block}": o.chosen for o in result.outcomes}, "found split": split}
        if split in trained.index:
            row.update({key: trained.loc[split, key] for key in ("accuracy %", "± sd", "seeds")})
        rows.append(row)
    return pd.DataFrame(rows).set_index("search")


def paths_summary(paths: pd.DataFrame, unsplit: float) -> str:
    """How far the searches of a :func:`paths_table` agree: how many different splits they found and, for those
    trained, the span of their test accuracy against ``unsplit``'s (%)."""
    found = paths["found split"].nunique()
    text = f"The {len(paths)} searches found {found} different split{'s' * (found > 1)}"
    trained = paths["accuracy %"].dropna() if "accuracy %" in paths else pd.Series(dtype=float)
    if not trained.empty:
        text += (f"; trained from scratch, they reach {trained.min():.2f} to {trained.max():.2f} % test accuracy, "
                 f"against {unsplit:.2f} % for the unsplit network")
    return text + "."


def paths_display(table: pd.DataFrame) -> Styler:
    """:func:`paths_table` as shown: factors as integers, accuracy to two decimals."""
    decimals = {column: 0 for column in table.columns if column.startswith("block ")}
    return styled(table, decimals | {"found split": None, "accuracy %": 2, "± sd": 2, "seeds": 0})


def found_summary(comparison: pd.DataFrame, result: SearchResult) -> str:
    """What the search found, in a clause the chapter, the introduction and the summary all use: the split with
    its share of parameters and its test accuracy against the unsplit network's, or the network its path lacks."""
    if result.missing:
        return (f"the search has not found its split yet: its path needs the network "
                f"{','.join(map(str, result.missing))} next, which the records lack")
    if "found by search" not in comparison.index:
        return (f"the search found the split {','.join(map(str, result.split))}, which has not been trained from "
                "scratch yet, so its accuracy as a comparison network is not known")
    found, baseline = comparison.loc["found by search"], comparison.loc["baseline"]
    drop = baseline["accuracy %"] - found["accuracy %"]
    return (f"the search found the split {','.join(map(str, result.split))}: it keeps "
            f"{found['parameters vs baseline']:.1%} of the parameters, at {found['accuracy %']:.2f} % test accuracy "
            f"against {baseline['accuracy %']:.2f} % unsplit (a drop of {drop:.2f} points)")


def comparison_table(records: list[RunRecord]) -> pd.DataFrame:
    """Mean and spread of accuracy over seeds, with parameters, MACs and memory, one row per network, at
    full precision (:func:`comparison_display` rounds, once, where the table is shown).

    Against the baseline: the drop in points and its 95 % interval (``drop low 95``, ``drop high 95``: Welch,
    over the seeds; unknown with a single seed on either side). ``low 95`` and ``high 95`` bound the mean's
    95 % interval (t, over the seeds)."""
    from netsplit.study.hypotheses import difference_interval, interval

    rows = []
    widths = [r.width_multiplier for r in records if r.experiment == "baseline"][:1]
    for name in dict.fromkeys(r.experiment for r in records):
        group = [r for r in records if r.experiment == name]
        accuracies = [100 * r.accuracy for r in group]
        first = group[0]
        split = ",".join(map(str, first.split)) if first.variant == "proposed" else f"{first.variant}, K={first.factor}"
        rows.append({
            "network": name,
            "split": f"unsplit, width {first.width_multiplier:.3g}" if widths and first.width_multiplier != widths[0] else split,
            "accuracy %": statistics.fmean(accuracies),
            "± sd": statistics.stdev(accuracies) if len(group) > 1 else None,
            "low 95": (interval(accuracies) or (None, None))[0],
            "high 95": (interval(accuracies) or (None, None))[1],
            "seeds": len(group),
            "accuracies": accuracies,
            "parameters": first.params,
            "MMACs": first.macs / 1e6,
            "memory layer by layer (KiB)": first.memory_layerwise / 1024,
            "memory branch by branch (KiB)": first.memory_branchwise / 1024,
        })
    table = pd.DataFrame(rows).set_index("network")
    if "baseline" in table.index:
        table.insert(3, "parameters vs baseline", table["parameters"] / table.loc["baseline", "parameters"])
        base = table.loc["baseline"]
        table.insert(2, "drop (points)", base["accuracy %"] - table["accuracy %"])
        intervals = [None if name == "baseline" else difference_interval(base["accuracies"], accuracies)
                     for name, accuracies in table["accuracies"].items()]
        table.insert(3, "drop low 95", [None if i is None else i[0] for i in intervals])
        table.insert(4, "drop high 95", [None if i is None else i[1] for i in intervals])
    return table


COST_COLUMNS = {"parameters": "parameters", "MACs": "MMACs"}
"""The costs a split network is set against the unsplit curve at: their names and comparison-table columns."""


def is_unsplit(name: str) -> bool:
    """Whether a comparison network is the unsplit network, at the study's width or thinned."""
    return name == "baseline" or name.startswith("thin: ")


def curve_distances(table: pd.DataFrame) -> pd.DataFrame:
    """Each split network's distance from the unsplit network's accuracy-against-cost curve, at its parameters
    and at its MACs (points; a :func:`comparison_table` whose unsplit networks at several widths make the curve).

    The curve joins the unsplit networks' mean accuracies in the logarithm of their cost; at a split network's
    cost it is read between its two neighbours, seed by seed (the unsplit networks share their seeds), and the
    split network's seeds are set against those readings (95 % interval, Welch). A cost outside the curve's
    span has no distance."""
    from netsplit.study.hypotheses import difference_interval

    rows = []
    unsplit = table[[is_unsplit(name) for name in table.index]]
    for name in (n for n in table.index if not is_unsplit(n)):
        for cost, column in COST_COLUMNS.items():
            curve = unsplit.sort_values(column)
            x, at = np.log(curve[column].astype(float).to_numpy()), math.log(table.loc[name, column])
            row = {"network": name, "cost": cost, "distance (points)": None, "low": None, "high": None}
            if x.min() <= at <= x.max() and len(curve) > 1:
                right = min(int(np.searchsorted(x, at)), len(x) - 1) or 1
                weight = (at - x[right - 1]) / (x[right] - x[right - 1]) if x[right] > x[right - 1] else 0.0
                seeds = min(len(curve.iloc[right - 1]["accuracies"]), len(curve.iloc[right]["accuracies"]))
                read = [(1 - weight) * curve.iloc[right - 1]["accuracies"][i] + weight * curve.iloc[right]["accuracies"][i]
                        for i in range(seeds)]
                mine = table.loc[name, "accuracies"]
                found = difference_interval(mine, read)
                row.update({"distance (points)": statistics.fmean(mine) - statistics.fmean(read),
                            "low": None if found is None else found[0], "high": None if found is None else found[1]})
            rows.append(row)
    return pd.DataFrame(rows).set_index(["network", "cost"])


def curve_summary(distances: pd.DataFrame) -> str:
    """The distances of :func:`curve_distances` in a sentence, per network and cost."""
    known = distances.dropna(subset=["distance (points)"])
    outside = [f"{name} at equal {cost}" for name, cost in distances.index if (name, cost) not in known.index]
    parts = [f"{name} {row['distance (points)']:+.2f} at equal {cost}"
             + ("" if pd.isna(row["low"]) else f" ({row['low']:+.2f} to {row['high']:+.2f})")
             for (name, cost), row in known.iterrows()]
    text = ("Distance from the unsplit curve, in points (95 % interval): " + "; ".join(parts) + "."
            if parts else "No split network lies within the span of the unsplit curve.")
    return text + (f" Outside the curve's span, so not compared: {'; '.join(outside)}." if outside else "")


def controls_text(table: pd.DataFrame) -> str:
    """How far each split network's two thin controls (equal parameters, equal MACs) lie from each other, with the
    difference's 95 % interval (Welch): a split-against-control gap no larger says as much about the choice of the
    matched cost as about splitting. Empty where no network has both controls with several seeds."""
    from netsplit.study.hypotheses import difference_interval

    parts = []
    for name in table.index:
        pair = [control_name(label, name) for label in ("parameters", "MACs")]
        if not all(control in table.index for control in pair) or len(set(table.loc[pair, "split"])) == 1:
            continue  # no pair of controls, or one network thinned to both costs alike (its seeds shared)
        by_params, by_macs = (table.loc[control, "accuracies"] for control in pair)
        bounds = difference_interval(by_params, by_macs)
        if bounds is not None:
            gap = table.loc[pair[0], "accuracy %"] - table.loc[pair[1], "accuracy %"]
            parts.append(f"{name}'s, {gap:+.2f} points ({bounds[0]:+.2f} to {bounds[1]:+.2f}; equal parameters "
                         "against equal MACs)")
    if not parts:
        return ""
    return ("The two thin controls of a split network differ from each other too: " + "; ".join(parts)
            + ". A split's distance from one control is read beside that gap, which comes from the choice of the "
              "matched cost alone.")


def _shown(value: object, decimals: int | Callable | None) -> str:
    """One value of a displayed table: rounded once to ``decimals`` (thousands separated), a callable's
    text, yes/no for a truth value, – where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if callable(decimals):
        return decimals(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if decimals is None or not isinstance(value, numbers.Real):
        return str(value)
    return f"{value:,.{decimals}f}"


def styled(frame: pd.DataFrame, decimals: dict[str, int | Callable | None], names: dict[str, str | tuple] | None = None,
           index: Callable | None = None, fold: Sequence[str] = ()) -> Styler:
    """``frame`` as a book shows it: each column's values rounded once, here, to its ``decimals`` (a
    callable formats them itself; columns not named are shown as they are), missing values as –, numbers
    right-aligned; columns renamed by ``names`` (tuples make a two-row header), the index formatted by
    ``index``; each column of ``fold`` that holds one value in every row is left out and named, with that
    value, in the table's caption. The frame itself keeps full precision."""
    folded = [c for c in fold if c in frame and len(frame) and frame[c].nunique(dropna=False) == 1]
    caption = ", ".join(f"{c} = {_shown(frame[c].iloc[0], decimals.get(c))}" for c in folded)
    frame = frame.drop(columns=folded)
    shown = frame.copy()
    formats = {column: partial(_shown, decimals=decimals.get(column)) for column in frame.columns}
    numeric = [c for c in frame.columns if isinstance(decimals.get(c), int)]
    if names:
        renamed = [names.get(column, column) for column in frame.columns]
        if any(isinstance(name, tuple) for name in renamed):
            renamed = pd.MultiIndex.from_tuples([n if isinstance(n, tuple) else ("", n) for n in renamed])
        shown.columns = renamed
        formats = {new: formats[old] for old, new in zip(frame.columns, shown.columns)}
        numeric = [new for old, new in zip(frame.columns, shown.columns) if old in numeric]
    style = shown.style.format(formats).set_table_styles([{"selector": "", "props": "font-size: 0.875em;"},
                                                          {"selector": "th, td", "props": "padding: 0.1em 0.35em;"}])
    if index is not None:
        style = style.format_index(index, axis=0)
    if caption:
        style = style.set_caption(f"In every row: {caption}.")
    return style.set_properties(subset=numeric, **{"text-align": "right"}) if numeric else style


COMPARISON_SHOWN = {  # column of comparison_table: (header as shown, decimals)
    "split": (("", "split"), None),
    "accuracy %": (("test accuracy %", "mean"), 2),
    "± sd": (("test accuracy %", "± sd"), 2),
    "drop (points)": (("test accuracy %", "drop"), 2),
    "drop 95 % interval": (("test accuracy %", "drop, 95 %"), None),
    "seeds": (("", "seeds"), 0),
    "parameters": (("parameters", "count"), 0),
    "parameters vs baseline": (("parameters", "of baseline"), 2),
    "MMACs": (("MMACs", ""), 2),
    "memory layer by layer (KiB)": (("peak memory, KiB", "layer by layer"), 1),
    "memory branch by branch (KiB)": (("peak memory, KiB", "branch by branch"), 1),
}
"""How the comparison table is shown, in this order: short two-row headers, one number of decimals per column."""


def comparison_display(table: pd.DataFrame) -> Styler:
    """The comparison table (:func:`comparison_table`) as the chapter shows it, narrow enough for the
    book's text column: grouped short headers in the order of :data:`COMPARISON_SHOWN`, each value rounded
    once; the seed count and the layer-by-layer memory, where every network has the same, move to the
    caption, and the spread columns, which one seed leaves empty, go."""
    if "drop low 95" in table:
        bounds = zip(table["drop low 95"], table["drop high 95"])
        table = table.assign(**{"drop 95 % interval": [None if pd.isna(low) else f"{low:+.2f} to {high:+.2f}"
                                                       for low, high in bounds]})
    shown = [c for c in COMPARISON_SHOWN if c in table and not table[c].isna().all()]
    return styled(table[shown], {c: d for c, (_, d) in COMPARISON_SHOWN.items()},
                  {c: name for c, (name, _) in COMPARISON_SHOWN.items()}, fold=("seeds", "memory layer by layer (KiB)"))


def search_table(result: SearchResult) -> pd.DataFrame:
    """The paper's Table 1 for a search, as shown: each block's baseline and each factor's accuracy (%, the
    accuracy the search decided on), all with two decimals (``mean ± sd`` over several seeds), – for a
    factor not tried, and the factor kept (? where the records stop before the block is decided)."""
    def shown(value: object) -> str:  # outcome_rows' numbers are rounded to two decimals already
        if pd.isna(value):
            return "–"
        return f"{value:.2f}" if isinstance(value, float) else str(value).replace("±", " ± ")

    return pd.DataFrame(outcome_rows(result)).set_index("block").map(shown)


def decisions_table(result: SearchResult) -> pd.DataFrame:
    """Each candidate a search judged, block by block: its accuracy and drop against the block's reference (points),
    the drop's 95 % interval where the search decided on paired images, what the rule did with it, and the block's
    fine-tuning bonus where its reference was the unsplit block fine-tuned as its candidates were; a block the
    records have not yet decided is left out."""
    rows = [{"block": o.block, "factor": factor, "accuracy %": 100 * mean,
             "drop (points)": o.paired_drops.get(factor, 100 * (o.reference - mean)),
             "low 95": o.intervals.get(factor, (None, None))[0], "high 95": o.intervals.get(factor, (None, None))[1],
             "decision": _decision(o, factor) + (" (within noise)" if factor in o.within_noise else ""),
             "bonus (points)": o.bonus}
            for o in result.outcomes if o.decided for factor, (mean, _) in o.candidates.items()]
    columns = ["block", "factor", "accuracy %", "drop (points)", "low 95", "high 95", "decision", "bonus (points)"]
    return pd.DataFrame(rows, columns=columns).set_index(["block", "factor"])


DECISIONS_SHOWN = {"accuracy %": 2, "drop (points)": 2, "low 95": 2, "high 95": 2, "decision": None,
                   "bonus (points)": 2}
"""How :func:`decisions_table` is shown: decimals per column."""


def decisions_display(result: SearchResult) -> Styler:
    """:func:`decisions_table` as the chapter shows it, the interval's ends under one header."""
    names = {"low 95": ("drop, 95 %", "from"), "high 95": ("drop, 95 %", "to"), "accuracy %": ("", "accuracy %"),
             "drop (points)": ("", "drop"), "decision": ("", "decision"), "bonus (points)": ("", "block's bonus")}
    return styled(decisions_table(result), DECISIONS_SHOWN, names)


def bonus_text(result: SearchResult) -> str:
    """What the candidates' extra epochs gave the unsplit block, in the blocks the search has decided, as a sentence."""
    bonuses = {o.block: o.bonus for o in result.outcomes if o.bonus is not None and o.decided}
    if not bonuses:
        return "This search judged its candidates against the block's base as it was, with no fine-tuned copy."
    low, high = min(bonuses.values()), max(bonuses.values())
    gained = f"{low:+.2f}" if len(bonuses) == 1 else f"{low:+.2f} to {high:+.2f}"
    return (f"Fine-tuned by the candidates' own schedule, the unsplit block gained {gained} points over the block's "
            "base (" + ", ".join(f"block {block} {bonus:+.2f}" for block, bonus in bonuses.items())
            + "): the gain the paper's rule credits to the candidates.")


def _decision(outcome: BlockOutcome, factor: int) -> str:
    """What the rule did with ``factor`` at its block: accept it (and keep it, as the block's last
    accepted factor), stop at it (the first whose drop reaches the threshold), or try it after the stop
    (a full sweep)."""
    if factor <= outcome.chosen:
        return "accept, kept" if factor == outcome.chosen and outcome.decided else "accept"
    first_failed = min(f for f in outcome.candidates if f > outcome.chosen)
    return "stop" if factor == first_failed else "after the stop"


def standard_error(accuracy: float, images: int) -> float | None:
    """The binomial standard error of an accuracy measured on ``images`` images, in points (None without images).

    >>> round(standard_error(0.93, 5000), 2)
    0.36
    """
    return 100 * math.sqrt(accuracy * (1 - accuracy) / images) if images else None


TRAINING_ORDER_COLUMNS = ("split", "block", "factor", "seed", "validation %", "test %", "± se", "drop (points)", "decision",
                          "clear of noise", "epochs", "train s")
"""The columns of :func:`training_order`."""


def training_order(result: SearchResult) -> pd.DataFrame:
    """The networks of a search's path, one row per trained network, in the order they trained (by their
    records' timestamps; ties in the order of ``result.records``): its split, the block and factor the
    search tried it as, seed, validation and test accuracy (%; no validation column when the search
    decided on the test set), its drop against the block's reference (points, on the accuracy the search
    decided on, unrounded), the decision the rule takes for that factor (on the mean over seeds, as
    :func:`~netsplit.search.rule.decide_block`), its epochs and training seconds.

    ``± se`` is the binomial standard error of the accuracy decided on (points); a decision is "clear of
    noise" when its drop is farther from the threshold than 1.96 standard errors of the difference (counted
    as if the two accuracies were independent; on the same images they are not, so this is cautious).

    A network that is only a block's reference (the unsplit one) is "reference"; records of networks off
    the path (a records file holds every threshold's) are left out."""
    path: dict[tuple[int, ...], tuple] = {}  # split: (block, factor, reference accuracy, decision)
    for outcome, step in zip(result.outcomes, result.path):
        path.setdefault(step.base, (outcome.block, 1, None, "reference"))
        for factor, candidate in step.candidates.items():
            path[candidate] = (outcome.block, factor, outcome.reference, _decision(outcome, factor))
    on_path = [(r.timestamp, i, r) for i, r in enumerate(result.records) if tuple(r.split) in path]
    rows = []
    for _, _, record in sorted(on_path, key=lambda item: item[:2]):
        block, factor, reference, decision = path[tuple(record.split)]
        if record.role == "reference":  # the block unsplit, fine-tuned as its candidates: what they are judged against
            block, factor, reference, decision = record.block, 1, None, "fine-tuned reference"
        accuracy = selection_accuracy(record)
        drop = None if reference is None else 100 * (reference - accuracy)
        error = standard_error(accuracy, record.validation_size or record.test_size)
        noise = None if reference is None or error is None else \
            1.96 * math.hypot(error, standard_error(reference, record.validation_size or record.test_size))
        rows.append({
            "split": ",".join(map(str, record.split)), "block": block, "factor": factor, "seed": record.seed,
            "validation %": None if record.validation_accuracy is None else 100 * record.validation_accuracy,
            "test %": 100 * record.accuracy, "± se": error,
            "drop (points)": drop, "decision": decision,
            "clear of noise": None if noise is None else abs(drop - result.threshold) > noise,
            "epochs": record.epochs, "train s": record.train_seconds,
        })
    frame = pd.DataFrame(rows, columns=TRAINING_ORDER_COLUMNS, index=pd.RangeIndex(1, len(rows) + 1, name="trained"))
    if result.decided_on == "test":
        frame = frame.drop(columns="validation %")
    return frame


TRAINING_ORDER_SHOWN = {"block": 0, "factor": 0, "seed": 0, "validation %": 2, "test %": 2, "± se": 2,
                        "drop (points)": 2, "decision": None, "clear of noise": None, "epochs": 0, "train s": 0}
"""Decimals of :func:`training_order`'s columns as shown."""


def training_order_display(order: pd.DataFrame) -> Styler:
    """The search's networks in training order (:func:`training_order`) as shown: each value rounded once,
    the drop's unit left to the caption, the seed in the caption where the search used one."""
    return styled(order, TRAINING_ORDER_SHOWN, {"drop (points)": "drop"}, fold=("seed",))


def trained_epochs(records: Iterable[RunRecord], split: tuple[int, ...], inherit: bool = True) -> int | None:
    """Epochs a search's network ``split`` trained in all: its own and, where the search fine-tuned it
    (``inherit``), those of the network it started from (its last split block back at 1), and so on back to
    a network trained from scratch; None where the records lack one of them."""
    by_split = {tuple(r.split): r for r in searched_records(records)}
    epochs, split = 0, tuple(split)
    while split in by_split:
        record = by_split[split]
        epochs += record.epochs
        if record.role != "candidate" or not inherit:
            return epochs
        last = max(i for i, factor in enumerate(split) if factor > 1)
        split = split[:last] + (1,) + split[last + 1:]
    return None


def tradeoff_frame(results: dict[float, SearchResult], inherit: bool = True) -> pd.DataFrame:
    """One row per threshold: the split its search found, its test accuracy as the search fine-tuned it
    (mean over the search's seeds, full precision), the epochs it trained in all (:func:`trained_epochs`),
    and that network's parameters and MACs. ``attrs["unsplit"]`` holds the unsplit network as the search
    trained it (accuracy, epochs, parameters, MMACs), the start of every threshold's path."""
    rows, unsplit = [], None
    for threshold, result in sorted(results.items()):
        searched = searched_records(result.records)
        found = [r for r in searched if tuple(r.split) == result.split]
        rows.append({"threshold": threshold, "split": ",".join(map(str, result.split)),
                     "accuracy %": 100 * statistics.fmean(r.accuracy for r in found),
                     "epochs": trained_epochs(searched, result.split, inherit),
                     "parameters": found[0].params, "MMACs": found[0].macs / 1e6})
        start = [r for r in searched if not any(f > 1 for f in r.split)]
        if start and unsplit is None:
            unsplit = {"accuracy %": 100 * statistics.fmean(r.accuracy for r in start), "epochs": start[0].epochs,
                       "parameters": start[0].params, "MMACs": start[0].macs / 1e6}
    frame = pd.DataFrame(rows).set_index("threshold")
    frame.attrs["unsplit"] = unsplit
    return frame


TRADEOFF_SHOWN = {"split": None, "accuracy %": 2, "epochs": 0, "parameters": 0, "MMACs": 2}
"""Decimals of :func:`tradeoff_frame`'s columns as shown."""


def tradeoff_display(found: pd.DataFrame) -> Styler:
    """The trade-off table as shown: thresholds as written (0.25), each value rounded once."""
    return styled(found, TRADEOFF_SHOWN, {"accuracy %": "test accuracy %", "epochs": "epochs in all"},
                  index=lambda threshold: f"{threshold:g}")


def chapter_records(*groups: Iterable[RunRecord]) -> list[RunRecord]:
    """The records of every network a chapter trained, each training once: searches at several thresholds
    share networks, and a comparison network the search had already trained is a copy of its record
    (:func:`searched_twin`)."""
    seen, unique = set(), []
    for record in chain(*groups):
        key = (record.model, record.variant, tuple(record.split), record.seed, record.epochs, record.timestamp,
               record.train_seconds, record.accuracy, record.loss)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def study_records(folder: str | Path | None = None) -> list[RunRecord]:
    """Every network the published profile's chapters trained (searches, comparison networks, controls, the own
    network's search), each training once, from the run records under ``folder`` (default: results/)."""
    from netsplit.study.reproduce import chapter_parameters

    parameters = chapter_parameters("vgg16")
    folder = Path(folder or SOURCE_ROOT / parameters["records_dir"])
    records = [record for path in sorted(folder.glob(f"*-{parameters['dataset']}-*.jsonl"))
               for record in read_records(path)]
    return chapter_records([r for r in records if r.validation_size == parameters["validation_size"]])


def cpu_hours(records: Iterable[RunRecord]) -> float:
    """Hours of training the records hold (their ``train_seconds``, each training counted once)."""
    return sum(r.train_seconds for r in chapter_records(records)) / 3600


def record_devices(records: Iterable[RunRecord]) -> str:
    """The devices the records name, each once, in alphabetical order, joined by "; "."""
    return "; ".join(sorted({r.device for r in records if r.device}))


def provenance_note(records: list[RunRecord]) -> str:
    """One sentence: where and with what the records were made, and how long training took."""
    if not records:
        return "No records yet."
    devices = sorted({r.device for r in records})
    backends = sorted({r.backend for r in records})
    versions = records[-1].versions
    seconds = sum(r.train_seconds for r in records)
    commits = sorted({r.git_commit.split("+")[0][:12] for r in records})
    dirty = " with uncommitted changes" if any(r.git_commit.endswith("+dirty") for r in records) else ""
    return (
        f"{len(records)} networks trained on {', '.join(devices)} with Keras {versions.get('keras', '?')} "
        f"({', '.join(backends)} backend), {seconds / 60:.1f} minutes of training in all; "
        f"code at commit {', '.join(commits)}{dirty}."
    )


def data_title(config: SearchConfig, data: Dataset) -> str:
    """The data set as every table and plot names it, with the subset, held-out images and width used."""
    held = "" if data.x_val is None else f", {len(data.x_val):,} held out for the search's decisions"
    width = "" if config.width_multiplier == 1 else f", width x{config.width_multiplier:g}"
    return f"{data.title} ({len(data.x_train):,} train / {len(data.x_test):,} test images{held}{width})"


def measured_memory(paths: list[str | Path], networks: dict[str, tuple[int, ...]] | None = None) -> pd.DataFrame:
    """Memory measurements (``benchmarks/memory.py`` output) from whichever of ``paths`` exist, each
    named as in ``networks`` (default :data:`MEMORY_NETWORKS`; see :func:`network_label`)."""
    names = {",".join(map(str, split)): name for name, split in (networks or MEMORY_NETWORKS).items()}
    rows = [row for path in paths if Path(path).exists() for row in read_lines(path)]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    repeats = frame["seconds_repeats"] if "seconds_repeats" in frame else frame["seconds"].map(lambda s: [s])
    repeats = repeats.where(repeats.notna(), frame["seconds"].map(lambda s: [s]))
    named = frame["split"].map(names).fillna(frame["split"])
    return frame.assign(
        network=[network_label(model, name, split.split(","))
                 for model, name, split in zip(frame["model"], named, frame["split"])],
        **{"fastest s": repeats.map(min), "slowest s": repeats.map(max), "timed passes": repeats.map(len)},
        **{"input size": frame["input_size"], "measured MiB": frame["measured_bytes"] / 2**20,
           "analysis MiB": frame["analysis_bytes"] / 2**20},
    )


def measurement_provenance(measured: pd.DataFrame) -> pd.DataFrame:
    """Where each group of memory measurements comes from: device, backend, Keras, commit, and how many
    measurements and timed passes each holds."""
    frame = measured.assign(keras=measured["versions"].map(lambda versions: versions.get("keras", "?")))
    keys = ["device", "backend", "keras", "git_commit"]
    return (frame.groupby(keys).agg(measurements=("split", "size"), **{"timed passes each": ("timed passes", "max")})
            .reset_index())


def memory_savings(measured: pd.DataFrame) -> pd.DataFrame:
    """Per network and size: the original's layer-by-layer peak over this network's branch-by-branch
    peak, measured and counted, their agreement, and the time branch by branch vs layer by layer
    (median over median, and the lowest and highest quotient the timed passes allow)."""
    keys = ["device", "model", "input size"]
    base = measured.query("network == 'original' and execution == 'layer by layer'")[keys + ["measured MiB", "analysis MiB"]]
    layer = measured.query("execution == 'layer by layer'")[keys + ["network", "seconds", "fastest s", "slowest s"]]
    savings = (
        measured.query("execution == 'branch by branch'")
        .merge(base, on=keys, suffixes=("", " original"))
        .merge(layer, on=keys + ["network"], suffixes=("", " layer by layer"))
    )
    savings["measured saving"] = savings["measured MiB original"] / savings["measured MiB"]
    savings["counted saving"] = savings["analysis MiB original"] / savings["analysis MiB"]
    savings["agreement"] = savings["measured saving"] / savings["counted saving"]
    savings["time vs layer by layer"] = savings["seconds"] / savings["seconds layer by layer"]
    savings["time, lowest"] = savings["fastest s"] / savings["slowest s layer by layer"]
    savings["time, highest"] = savings["slowest s"] / savings["fastest s layer by layer"]
    columns = ["measured saving", "counted saving", "agreement", "time vs layer by layer", "time, lowest", "time, highest"]
    return savings.set_index(keys + ["network"])[columns]


def engine_memory(path: str | Path) -> pd.DataFrame:
    """The engine memory measurements (``benchmarks/engine_memory.py`` output): a row per model, network and
    kernels, a column per input size, the process's peak in MiB and, beside it, that peak over the unsplit
    network's on the same kernels, and (where it was timed) its invocation time over the unsplit network's;
    empty where the file does not exist."""
    if not Path(path).exists():
        return pd.DataFrame()
    frame = pd.DataFrame(read_lines(path)).drop_duplicates(["model", "network", "kernels", "input size"], keep="last")
    def over_unsplit(value: str) -> pd.DataFrame:
        table = frame.pivot_table(index=["model", "kernels", "network"], columns="input size", values=value)
        return table / table.xs("unsplit", level="network").reindex(table.index.droplevel("network")).to_numpy()

    parts = {"MiB": frame.pivot_table(index=["model", "kernels", "network"], columns="input size", values="peak_mib"),
             "vs unsplit": over_unsplit("peak_mib")}
    if "invoke_ms" in frame:
        parts["time vs unsplit"] = over_unsplit("invoke_ms")
    return pd.concat(parts, axis=1)


def engine_memory_note(engine: pd.DataFrame, size: int, model: str = "vgg16") -> str:
    """What the engine measurements (:func:`engine_memory`) say at ``size`` pixels for ``model``, in the words the
    numbers allow: on each kernels, the branchwise and grouped exports' peaks against the unsplit network's."""
    if engine.empty or ("vs unsplit", size) not in engine.columns:
        return (f"No engine measurements at {size} pixels yet: `python benchmarks/engine_memory.py` makes them.")
    ratio = engine["vs unsplit"][size].xs(model, level="model")
    parts = []
    for kernels, name in (("builtin", "LiteRT's own kernels"), ("xnnpack", "the XNNPACK delegate, the default")):
        branchwise, grouped = ratio[kernels, "split, branchwise"], ratio[kernels, "split, grouped"]
        verdict = "less" if branchwise < 1 else "more"
        timed = ("time vs unsplit", size) in engine.columns and pd.notna(
            engine["time vs unsplit"][size].xs(model, level="model")[kernels, "split, branchwise"])
        cost = (f" in {engine['time vs unsplit'][size].xs(model, level='model')[kernels, 'split, branchwise']:.2f}x its "
                "time") if timed else ""
        parts.append(f"on {name}, the split run branch by branch holds {branchwise:.2f}x the unsplit network's "
                     f"memory ({verdict}){cost}, as grouped convolutions {grouped:.2f}x")
    return f"At {size}x{size} pixels, for {model}: " + "; ".join(parts) + "."


def glue_facts(facts: Mapping[str, object]) -> None:
    """Glue each named number or word that a chapter's text quotes (``{glue:text}`name```), showing none."""
    from myst_nb import glue

    for name, value in facts.items():
        glue(name, value, display=False)


def missing_note(result: SearchResult, what: str = "The search's path") -> str:
    """Where a search stopped for lack of a record, in Markdown: the network it needs next."""
    return (f"{what} needs the network {','.join(map(str, result.missing))} next, which the records lack")


def start_note(config: SearchConfig, result: SearchResult, input_shape: tuple[int, int, int]) -> str | None:
    """For a search that starts from a split network: where it starts, whether that network was trained, and
    what the start saves over the unsplit network (in Markdown); None for a search from the unsplit network."""
    if not any(factor > 1 for factor in config.start):
        return None
    unsplit, started = (network_costs(config.model, split, config.width_multiplier, input_shape)
                        for split in ((1,) * config.block_count, config.start))
    held = any(tuple(r.split) == config.start for r in result.records)
    saving = ("saves nothing: a fusion added, nothing removed. Read the split found below with that in mind: its "
              "factor there is a cost, not a saving" if changes_nothing(unsplit, started) else "saves that much")
    return (f"**Where this search starts.** It starts from the split {','.join(map(str, config.start))} rather than "
            f"the unsplit network, and decides blocks {', '.join(map(str, config.blocks))} from there; "
            + ("the records hold that network, so it is not trained again. " if held else
               "that network is trained first, from scratch. ")
            + f"It has {started[0]:,} parameters and {started[1]:,} MACs against the unsplit network's {unsplit[0]:,} "
            f"and {unsplit[1]:,}, so the start {saving}.")


def tradeoff_caption(config: SearchConfig, found: pd.DataFrame, final_epochs: int) -> str:
    """The caption of the trade-off figure: how each panel's networks were trained (Markdown)."""
    unsplit = found.attrs["unsplit"]
    return (f"*Left: the split each threshold t found, with its test accuracy as the search fine-tuned it "
            f"({config.baseline_epochs} epochs from scratch for the unsplit network, then {config.finetune_epochs} "
            f"more for each block split, {found['epochs'].min():.0f} to {found['epochs'].max():.0f} epochs in all), "
            f"beside the unsplit network the search started from ({unsplit['epochs']} epochs). Right: the comparison "
            f"networks, trained from scratch for {final_epochs} epochs, mean ± sd of their seeds. The panels differ in "
            f"training, not only in structure: a point on the left may sit above the unsplit network on the right "
            f"because it trained longer.*")


def profile_note(profile: str) -> str | None:
    """The warning profiles.yml gives the results of ``profile`` (None where it gives none)."""
    from netsplit.study.reproduce import load_profiles

    return load_profiles().get(profile, {}).get("note")
