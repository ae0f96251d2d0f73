"""A search's settings, in one place: the options, their defaults and help, and their validation.

:class:`SearchConfig` is what the command line, the notebooks and the profiles all build a search from
(:meth:`SearchConfig.from_options`); every option is checked when the configuration is made, each
candidate network's shape included, so that nothing invalid reaches training.
"""

from __future__ import annotations

import math
from dataclasses import Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from netsplit.blocks import Unit, blueprint, check_factor
from netsplit.choices import DATASET_HELP, MODELS, check_dataset, is_network_file
from netsplit.errors import InputError
from netsplit.records import config_hash

if TYPE_CHECKING:  # the command line reads the options without starting Keras
    from netsplit.data import Dataset
    from netsplit.networks import Network

REFERENCES = ("block", "original")
DECISIONS = ("mean", "paired")
"""How a drop is judged: the mean accuracy against the threshold (the paper), or the paired per-image difference
with its 95 % interval (see :func:`~netsplit.search.rule.paired_drop`)."""
DECISION_FIELDS = ("threshold", "candidate_factors", "blocks", "start", "reference", "seeds", "sweep", "fair_reference",
                   "decision", "extra_seeds")
"""Fields that decide which networks a search trains and accepts, never what one of them is."""
LATER_DEFAULTS = {"validation_size": None, "sweep": False, "architecture": None, "data_content": None,
                  "finetune_learning_rate": None, "start": None, "fair_reference": False, "decision": "mean",
                  "extra_seeds": 0}
"""Fields added after records were first written, with the defaults that behave as before them."""


def _option(default: object, help: str, **extra: object):
    """A field of :class:`SearchConfig` with what the command line says of it: ``help``, and optionally its
    ``flag``, ``choices``, ``minimum`` (else 1 for integers, above 0 for other numbers), ``off`` (a flag that
    turns a True default off)."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class SearchConfig:
    """Everything that decides a search's results; the paper's settings are the defaults.

    ``model`` is a built-in model or a ``.keras`` file of your own network (see
    :func:`~netsplit.networks.split_network`), trained from scratch as the built-in ones are; its
    records carry the file's name and a hash of its architecture (:attr:`architecture`), which is
    part of the records' key.

    >>> SearchConfig(threshold=0.5).hash == SearchConfig(threshold=2.0).hash  # the same networks
    True
    """

    model: str = _option("vgg16", f"{', '.join(MODELS)}, or a .keras file of your own CNN")
    dataset: str = _option("fashion_mnist", DATASET_HELP)
    threshold: float = _option(0.5, "largest accepted drop in accuracy, in percentage points", minimum=0)
    candidate_factors: tuple[int, ...] = _option((2, 4, 6, 8), "candidate factors of every block, ascending")
    blocks: tuple[int, ...] | None = _option(None, "blocks to search, ascending (default: all)")
    start: tuple[int, ...] | None = _option(None, "the split the search starts from, one factor per block, splitting "
                                            "only blocks before those it visits (default: unsplit)")
    baseline_epochs: int = _option(10, "epochs of a network trained from scratch (the unsplit baseline)")
    finetune_epochs: int = _option(3, "epochs of a candidate fine-tuned from its parent's weights")
    inherit: bool = _option(True, "fine-tune candidates from their parent's weights",
                            off="train candidates from scratch instead of fine-tuning them")
    reference: str = _option("block", "judge a drop against the block's baseline (the paper) or the unsplit network",
                             choices=REFERENCES)
    seeds: int = _option(1, "seeds per network; decide on their mean")
    seed: int = _option(0, "seed of the initial weights, subsets and augmentation", minimum=0)
    width_multiplier: float = _option(1.0, "scales every layer's filters")
    train_size: int | None = _option(None, "train on a random subset of this many images (default: all)")
    test_size: int | None = _option(None, "test on a random subset of this many images (default: all)")
    batch_size: int = _option(128, "images per training step")
    learning_rate: float = _option(0.05, "peak learning rate (after one epoch's warm-up)", flag="--lr")
    finetune_learning_rate: float | None = _option(
        None, "fine-tune candidates at this rate, without warm-up (default: as from scratch)", flag="--finetune-lr")
    validation_size: int | None = _option(None, "decide on this many images held out of training (default: on the "
                                          "test set)")
    sweep: bool = _option(False, "train every candidate factor of a block, also past the first that fails")
    fair_reference: bool = _option(False, "judge a block's candidates against its baseline fine-tuned by their own "
                                   "schedule (a factor-1 candidate), so the extra epochs' gain cancels")
    decision: str = _option("mean", "judge a drop by its mean (the paper), or by the paired per-image difference on "
                            "the same images: accept below the threshold, stop above it, and within noise keep the "
                            "smaller factor", choices=DECISIONS)
    extra_seeds: int = _option(0, "with paired decisions, train up to this many further seeds of a candidate and its "
                               "reference where the interval holds the threshold, deciding again after each",
                               minimum=0)
    architecture: str | None = field(default=None, init=False)  # a .keras network's architecture hash
    data_content: str | None = field(default=None, init=False)  # your own data's file hash (own_data_hash)

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidate_factors", tuple(self.candidate_factors))
        if is_network_file(self.model):
            object.__setattr__(self, "architecture", self.network().architecture())
        if ":" in str(self.dataset):  # your own data: new content, new records file
            from netsplit.imagefiles import own_data_hash

            object.__setattr__(self, "data_content", own_data_hash(self.dataset))
        blocks = range(1, self.block_count + 1) if self.blocks is None else self.blocks
        object.__setattr__(self, "blocks", tuple(blocks))
        start = (1,) * self.block_count if self.start is None else self.start
        object.__setattr__(self, "start", tuple(start) if isinstance(start, (list, tuple)) else start)
        validate(self)

    @classmethod
    def options(cls) -> list[Field]:
        """The options a search is configured by, in order, each with its default and help."""
        return [option for option in fields(cls) if option.init]

    @classmethod
    def from_options(cls, options: Mapping[str, object], others: bool = False) -> SearchConfig:
        """A configuration from named options (the command line's, a notebook's parameters, a profile's); lists
        become tuples. A name that is no option is an error, or passed over with ``others``.

        >>> SearchConfig.from_options({"candidate_factors": [2, 4], "threshold": 1.0}).candidate_factors
        (2, 4)
        >>> SearchConfig.from_options({"factor": [2, 4]})
        Traceback (most recent call last):
        netsplit.errors.InputError: unknown search option 'factor'; the options are model, dataset, threshold, \
candidate_factors, blocks, baseline_epochs, finetune_epochs, inherit, reference, seeds, seed, width_multiplier, \
train_size, test_size, batch_size, learning_rate, finetune_learning_rate, validation_size, sweep, fair_reference, \
decision, extra_seeds
        """
        names = [option.name for option in cls.options()]
        unknown = [name for name in options if name not in names]
        if unknown and not others:
            raise InputError(f"unknown search option {unknown[0]!r}; the options are {', '.join(names)}")
        return cls(**{name: tuple(value) if isinstance(value, list) else value
                      for name, value in options.items() if name in names})

    def network(self) -> Network | None:
        """Your own network cut into blocks, where ``model`` is a .keras file; None for a built-in model."""
        if not is_network_file(self.model):
            return None
        from netsplit.networks import describe_network, load_network

        return describe_network(load_network(self.model))

    def block_units(self) -> list[tuple[Unit, ...]]:
        """Each block's layers as the search splits them (a built-in model's at its width multiplier)."""
        network = self.network()
        if network is None:
            return list(blueprint(self.model, self.width_multiplier).blocks)
        return [block.units for block in network.blocks]

    @property
    def block_count(self) -> int:
        """How many blocks the model has."""
        return len(self.block_units())

    @property
    def model_name(self) -> str:
        """The model as records name it: a built-in model's name, or the .keras file's name."""
        return Path(self.model).name if self.architecture else self.model

    @property
    def training(self) -> dict:
        """The settings that determine every trained network (all but :data:`DECISION_FIELDS`; settings
        added later count only when they differ from their default, so older keys stay valid)."""
        fields = {k: v for k, v in asdict(self).items()
                  if k not in DECISION_FIELDS and (k not in LATER_DEFAULTS or v != LATER_DEFAULTS[k])}
        return fields | {"model": self.model_name}  # a .keras file's name, wherever it lies

    @property
    def hash(self) -> str:
        """Key of the records file: a hash of :attr:`training`."""
        return config_hash(self.training)

    def costs(self, split: tuple[int, ...]) -> tuple[int, int]:
        """Parameters and MACs of the network split by ``split`` (counted, not trained)."""
        from netsplit.complexity import network_costs

        return network_costs(self.model, tuple(split), self.width_multiplier)

    def load_data(self, path: str | None = None) -> Dataset:
        """The configuration's data: its subsets and held-out validation images, from ``path`` if given
        (for your own network, resized to its input)."""
        from netsplit.data import load_dataset
        from netsplit.train import check_head

        network = self.network()
        data = load_dataset(self.dataset, self.train_size, self.test_size, seed=self.seed, path=path,
                            validation_size=self.validation_size,
                            image_shape=None if network is None else network.input_shape)
        if network is not None:
            check_head(network.model, data)
        return data

    def default_records(self, folder: str | Path = "results") -> Path:
        """``results/<model>-<dataset>-<hash>.jsonl``: new training settings get a new file (your own
        network and data are named by their file or folder name). Paired decisions keep a file of their own,
        ``...-<hash>-paired.jsonl``, every record of which carries per-image results (older ones do not).

        >>> SearchConfig(decision="paired").default_records().name
        'vgg16-fashion_mnist-b63839da61dc-paired.jsonl'
        """
        dataset = "-".join(Path(part).stem for part in self.dataset.split(":"))
        paired = "-paired" if self.decision == "paired" else ""
        return Path(folder) / f"{Path(self.model_name).stem}-{dataset}-{self.hash}{paired}.jsonl"


def changes_nothing(base: tuple[int, int], candidate: tuple[int, int]) -> bool:
    """Whether a candidate costs no fewer parameters and no fewer MACs than the network it splits: a block of
    one convolution whose branches all read its whole input does the same arithmetic, plus a fusion. Such a
    factor is skipped, not trained."""
    return candidate[0] >= base[0] and candidate[1] >= base[1]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def validate(config: SearchConfig) -> None:
    """Raise ValueError naming the first invalid option and what is valid."""
    if config.model not in MODELS and not is_network_file(config.model):
        raise InputError(f"unknown model {config.model!r}; valid models are {', '.join(MODELS)} "
                         "and .keras files of your own networks")
    if config.architecture and config.width_multiplier != 1.0:
        raise InputError(f"width_multiplier scales the built-in models; {config.model} keeps its own widths")
    check_threshold(config.threshold)
    factors = config.candidate_factors
    if not factors or not all(_is_integer(f, minimum=2) for f in factors):
        raise InputError(f"candidate factors must be a non-empty list of integers >= 2, got {list(factors)}")
    if list(factors) != sorted(set(factors)):
        raise InputError(f"candidate factors must be strictly ascending, got {list(factors)}")
    units = config.block_units()
    count = len(units)
    if not config.blocks or any(not _is_integer(b, 1) or b > count for b in config.blocks):
        raise InputError(f"blocks must be numbers 1..{count} of {config.model}, got {list(config.blocks)}")
    if list(config.blocks) != sorted(set(config.blocks)):
        raise InputError(f"blocks must be searched in ascending order, got {list(config.blocks)}")
    if not isinstance(config.start, tuple) or len(config.start) != count or not all(_is_integer(f, 1) for f in config.start):
        raise InputError(f"start must be a split of {config.model}: {count} positive integers, one factor per block, "
                         f"got {list(config.start)}")
    check_reference(config.reference)
    if config.decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}, got {config.decision!r}")
    if config.fair_reference and not config.inherit:
        raise InputError("fair_reference fine-tunes the block's baseline as its candidates are fine-tuned; with "
                         "inherit off the candidates train from scratch, so there is nothing to match")
    if config.extra_seeds and config.decision != "paired":
        raise InputError("extra_seeds settles paired decisions within noise; set decision to paired, or extra_seeds to 0")
    check_dataset(config.dataset)
    for name in ("seeds", "baseline_epochs", "finetune_epochs", "batch_size"):
        if not _is_integer(getattr(config, name), minimum=1):
            raise InputError(f"{name} must be a positive integer, got {getattr(config, name)!r}")
    for name in ("train_size", "test_size"):
        value = getattr(config, name)
        if value is not None and not _is_integer(value, minimum=1):
            raise InputError(f"{name} must be a positive integer or None (all images), got {value!r}")
    if not _is_integer(config.seed, minimum=0):
        raise InputError(f"seed must be a non-negative integer, got {config.seed!r}")
    if not _is_number(config.learning_rate) or config.learning_rate <= 0:
        raise InputError(f"learning_rate must be a positive number, got {config.learning_rate!r}")
    if not _is_number(config.width_multiplier) or not 0 < config.width_multiplier <= 4:
        raise InputError(f"width_multiplier must be a number in (0, 4], got {config.width_multiplier!r}")
    for name in ("inherit", "sweep", "fair_reference"):
        if not isinstance(getattr(config, name), bool):
            raise InputError(f"{name} must be True or False, got {getattr(config, name)!r}")
    if config.finetune_learning_rate is not None and (not _is_number(config.finetune_learning_rate)
                                                      or config.finetune_learning_rate <= 0):
        raise InputError(f"finetune_learning_rate must be a positive number or None (as from scratch), "
                         f"got {config.finetune_learning_rate!r}")
    if config.validation_size is not None and not _is_integer(config.validation_size, minimum=1):
        raise InputError(f"validation_size must be a positive integer or None (decide on the test set), "
                         f"got {config.validation_size!r}")
    _check_candidates(config, units)


def _check_candidates(config: SearchConfig, units: list[tuple[Unit, ...]]) -> None:
    """Raise InputError if a candidate factor cannot split a searched block, or the start's factor its block (wider
    than the block's narrowest layer, among its ``units``)."""
    for block in config.blocks:
        widths = [unit.width for unit in units[block - 1]]
        for factor in config.candidate_factors:
            check_factor(factor, widths,
                         f"block {block} of {config.model_name} (candidate factors {list(config.candidate_factors)})")
    for block, factor in enumerate(config.start, 1):
        if factor > 1 and block >= config.blocks[0]:
            raise InputError(f"start splits block {block}, but the search visits blocks {list(config.blocks)}: a start "
                             "splits only blocks before the first one the search visits")
        if factor > 1:
            check_factor(factor, [unit.width for unit in units[block - 1]],
                         f"block {block} of {config.model_name} (start {list(config.start)})")


def check_threshold(threshold: object) -> float:
    """``threshold`` if it is a finite, non-negative number of percentage points, else raise InputError."""
    if not _is_number(threshold) or threshold < 0:
        raise InputError(f"threshold must be a finite, non-negative number of percentage points, got {threshold!r}")
    return threshold


def check_reference(reference: object) -> str:
    """``reference`` if it is one of :data:`REFERENCES`, else raise InputError."""
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    return reference
