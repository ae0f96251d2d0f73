"""Command line: ``netsplit info | train | search | report | export``.

Exit status 0 on success, 2 on bad input (a one-line message, no traceback), 1 when a run fails
(a short message; the traceback with ``--traceback`` or ``NETSPLIT_TRACEBACK=1``).
Progress goes to stderr; ``--json`` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import os
import re
import sys
import traceback
from dataclasses import Field
from functools import partial

from netsplit import __version__
from netsplit.choices import DATASET_HELP, LOWERINGS, MODELS, PRECISIONS, VARIANTS, is_network_file
from netsplit.search.config import SearchConfig
from netsplit.errors import InputError

GLOBAL_FLAGS = ("--traceback", "--verbose")
"""Options taken anywhere on the command line, before or after the command: how a command shows itself,
never what it trains."""


class UsageError(InputError):
    """Bad input on the command line."""


def _table(rows: list[dict], columns: list[str]) -> str:
    """Rows as a plain text table, missing values shown as "-"."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns).to_string(index=False, na_rep="-")


def _build(args, input_shape: tuple[int, int, int], num_classes: int = 10):
    """The network that ``--model --variant --split --factor --width-multiplier`` describe (a .keras
    model is split by ``--split`` at its own input shape and classes)."""
    from netsplit.models import build_model
    from netsplit.networks import load_network, split_network

    if is_network_file(args.model):
        _own_network_options_only(args)
        return split_network(load_network(args.model), args.split)
    return build_model(args.model, args.variant, args.split, args.factor, input_shape=input_shape,
                       classes=num_classes, width_multiplier=args.width_multiplier)


def _own_network_options_only(args) -> None:
    if args.variant != "proposed" or args.factor is not None or args.width_multiplier != 1.0:
        raise UsageError("a .keras model takes --split only (no --variant, --factor or --width-multiplier)")


def _model_name(text: str) -> str:
    """``--model``: a built-in model, or a .keras file of your own network."""
    if text in MODELS or is_network_file(text):
        return text
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(MODELS)} or a .keras file)")


def _info(args) -> int:
    from netsplit.complexity import analyse, total

    size = args.input_size or 32
    model = _build(args, (size, size, args.channels))
    costs = analyse(model, args.input_size)
    costs.append(total(costs))
    rows = [c.as_dict() for c in costs]
    height, width, channels = model.input_shape[1:]
    if args.input_size is not None:
        height = width = args.input_size
    if args.json:
        print(json.dumps({"model": model.name, "input_size": height, "blocks": rows}, indent=2))
        return 0
    for row in rows:
        row["memory_layerwise"] = f"{row['memory_layerwise'] / 2**20:.2f} MiB"
        row["memory_branchwise"] = f"{row['memory_branchwise'] / 2**20:.2f} MiB"
        row["params"], row["macs"] = f"{row['params']:,}", f"{row['macs']:,}"
    print(f"{model.name} at {height}x{width}x{channels}, batch 1, float32")
    print(_table(rows, ["block", "params", "macs", "memory_layerwise", "memory_branchwise"]))
    return 0


def _train(args) -> int:
    from netsplit.data import load_dataset
    from netsplit.records import RecordsLock, config_hash
    from netsplit.train import TrainConfig, train_network

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate)
    network = _own_network(args)
    fields = _network_fields(args, network)
    key = config_hash({k: v for k, v in training_options(args).items() if k != "seed"}  # seeds share a file
                      | _data_content(args.dataset))
    with RecordsLock(args.records) if args.records else contextlib.nullcontext():
        store = _train_store(args, key, fields) if args.records else None
        if store is not None and (done := store.find(seed=args.seed)):
            print(f"{args.records} already holds this network with seed {args.seed} (trained {done[0].timestamp}); "
                  "nothing trained again", file=sys.stderr)
            print(done[0].to_json() if args.json else f"{done[0].model} on {done[0].dataset}: test accuracy "
                  f"{done[0].accuracy:.2%}, {done[0].params:,} parameters, {done[0].train_seconds:.1f} s")
            return 0
        data = load_dataset(args.dataset, args.train_size, args.test_size, seed=args.seed, path=args.data_path,
                            image_shape=None if network is None else network.input_shape,
                            validation_size=args.validation_size)
        build = partial(_build_fresh, args, network, data.input_shape, data.num_classes)
        model, record = train_network(
            build, data, config, args.seed, store, experiment="train", config_hash=key, variant=args.variant,
            factor=args.factor, width_multiplier=args.width_multiplier, **fields,
        )
    if args.json:
        print(record.to_json())
    else:
        validation = "" if record.validation_accuracy is None else \
            f", validation accuracy {record.validation_accuracy:.2%} ({record.validation_size:,} held-out images)"
        print(f"{model.name} on {data.title}: test accuracy {record.accuracy:.2%}{validation}, "
              f"{record.params:,} parameters, {record.train_seconds:.1f} s")
    return 0


def _data_content(dataset: str) -> dict:
    """What the records key holds of your own data's content (new content, new key); nothing for a built-in set."""
    from netsplit.imagefiles import own_data_hash

    return {"data_content": own_data_hash(dataset)} if ":" in dataset else {}


def _train_store(args: argparse.Namespace, key: str, fields: dict):
    """The records file of ``train``: refused, naming the settings that differ, where it holds another network."""
    from pathlib import Path

    from netsplit.records import RecordStore, read_records

    path = Path(args.records)
    other = next((r for r in (read_records(path) if path.is_file() else []) if r.config_hash != key), None)
    if other is not None:
        here = {"model": fields["model"], "split": fields["split"], "variant": args.variant, "dataset": args.dataset,
                "epochs": args.epochs, "width_multiplier": args.width_multiplier}
        differ = [f"{name} {getattr(other, name)} there, {value} here" for name, value in here.items()
                  if getattr(other, name) != value]
        raise UsageError(f"{path} holds records of another configuration ("
                         + ("; ".join(differ) or "a setting its records do not show: batch size, learning rate, "
                            "image counts or data path") + "); use another records file")
    return RecordStore(path, key)


def training_options(args: argparse.Namespace) -> dict:
    """The ``train`` options that determine the trained network: its records file's key."""
    shown = {flag.removeprefix("--") for flag in GLOBAL_FLAGS}
    return {("lr" if k == "learning_rate" else k): v for k, v in vars(args).items()  # "lr": as keys always had it
            if k not in {"run", "json", "records", "command", *shown}}


def _own_network(args):
    """``--model``'s network cut into blocks where it is a .keras file (options checked), else None."""
    from netsplit.networks import describe_network, load_network

    if not is_network_file(args.model):
        return None
    _own_network_options_only(args)
    return describe_network(load_network(args.model))


def _build_fresh(args, network, input_shape: tuple[int, int, int], num_classes: int):
    """A new network to train: a built-in one, or your own split and freshly initialised (as a search does)."""
    from netsplit.networks import split_network

    if network is None:
        return _build(args, input_shape, num_classes)
    return split_network(network.model, args.split, weights=False)


def _network_fields(args, network) -> dict:
    """What a record says of the trained network: its model name, split (checked: a factor per block) and
    (your own) architecture hash."""
    from pathlib import Path

    from netsplit.choices import check_split
    from netsplit.blocks import blueprint

    if network is None:
        return {"model": args.model, "split": list(check_split(args.split, len(blueprint(args.model).blocks)))}
    return {"model": Path(args.model).name, "architecture": network.architecture(),
            "split": list(check_split(args.split, len(network.blocks)))}


def _integers(text: str) -> tuple[int, ...]:
    """Comma-separated integers, as ``--split 8,2,2,4,4`` or ``--candidate-factors 2,4,6,8`` give them."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 8,2,2,4,4, got {text!r}") from None


def _print_outcome(result, as_json: bool) -> None:
    from netsplit.search.rule import outcome_rows

    rows = outcome_rows(result)
    missing = None if result.missing is None else list(result.missing)
    if as_json:
        print(json.dumps({"split": list(result.split), "blocks": rows, "missing": missing}, indent=2))
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print(_table(rows, columns))
    if missing is None:
        print(f"final split: {','.join(map(str, result.split))}")
    else:
        print(f"undecided: this threshold's path needs split {','.join(map(str, missing))} next, which no record "
              f"holds (a search at this threshold on the same records trains it); the blocks before it give "
              f"{','.join(map(str, result.split))}")


def _search(args) -> int:
    from netsplit.search.runner import run_search

    config = SearchConfig.from_options({option.name: getattr(args, option.name) for option in SearchConfig.options()})
    result = run_search(config, args.records, args.executor, args.address, args.data_path)
    _print_outcome(result, args.json)
    return 0


def _report(args) -> int:
    from pathlib import Path

    from netsplit.records import read_records
    from netsplit.search.rule import replay

    if not Path(args.records).is_file():
        raise UsageError(f"no records file at {args.records}")
    result = replay(read_records(args.records), args.threshold, args.reference, start=args.start, blocks=args.blocks,
                    factors=args.candidate_factors, fair_reference=args.fair_reference, decision=args.decision)
    _print_outcome(result, args.json)
    return 0


def _export(args) -> int:
    from pathlib import Path

    from netsplit.export import export, op_counts

    if len(args.paths) > 2:
        raise UsageError(f"expected [MODEL.keras] OUT.tflite, got {len(args.paths)} paths")
    *source, out = args.paths
    if Path(out).suffix != ".tflite":
        raise UsageError(f"the output file name must end in .tflite, got {out!r}")
    if source:
        from netsplit.networks import load_network

        if args.split is not None:
            raise UsageError("--split describes a network to build; leave it out when exporting a .keras file")
        model = load_network(source[0])
    else:
        size = args.input_size or 32
        model = _build(args, (size, size, args.channels))
    representative = _calibration_images(args, model, source) if args.precision == "int8" else None
    lowering = _lowering(args, model)
    path = export(model, out, args.precision, representative, args.input_size, lowering)
    if source:  # a trained network: its input must be prepared as its training prepared it
        _write_input_spec(args, model, path)
    ops = op_counts(path)
    summary = {"path": str(path), "model": model.name, "precision": args.precision, "lowering": lowering,
               "bytes": path.stat().st_size, "convolutions": ops.get("CONV_2D", 0)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{path}: {model.name}, {args.precision}, {summary['bytes'] / 2**20:.2f} MiB, "
              f"{summary['convolutions']} convolution operators")
    return 0


def _lowering(args, model) -> str | dict[str, str]:
    """``--lowering``; "measured" resolved block by block here, and said, since a block may go dense."""
    from netsplit.export import measured_lowerings

    if args.lowering != "measured":
        return args.lowering
    chosen = measured_lowerings(model, args.precision, args.input_size)
    if chosen:
        dense = [block for block, form in chosen.items() if form == "masked"]
        print(f"the form each split block runs fastest in here ({args.precision}, 1 thread): "
              + ", ".join(f"{block} {form}" for block, form in chosen.items())
              + (f"; no split form is faster than the unsplit arithmetic for {', '.join(dense)}, exported as one "
                 "dense convolution with zeros (masked)" if dense else ""), file=sys.stderr)
    return chosen


def _write_input_spec(args, model, path) -> None:
    """Beside an exported trained network, ``<name>.input.json``: how its inputs are standardised (the training
    images of ``--dataset``), since the .tflite holds only the network."""
    from netsplit.data import load_dataset
    from netsplit.records import write_atomically

    shape = (args.input_size or model.input_shape[1], args.input_size or model.input_shape[2], model.input_shape[-1])
    spec = load_dataset(args.dataset, path=args.data_path, image_shape=shape).input_spec()
    where = path.with_name(path.name.removesuffix(".tflite") + ".input.json")
    write_atomically(where, lambda partial: partial.write_text(json.dumps(spec, indent=2) + "\n"))
    print(f"{path.name} expects standardised input, not raw pixels: {where.name} gives the scale, mean and standard "
          f"deviation of the {args.dataset} training images (--dataset names the data it was trained on)",
          file=sys.stderr)


def _calibration_images(args, model, source: list[str]):
    """``--calibration-images`` training images of ``--dataset`` for int8, at the exported model's input
    (resized to it for a .keras file, as its training did)."""
    from netsplit.data import load_dataset

    shape = (args.input_size or model.input_shape[1], args.input_size or model.input_shape[2], model.input_shape[-1])
    data = load_dataset(args.dataset, args.calibration_images, seed=0, path=args.data_path,
                        image_shape=shape if source else None)
    if data.input_shape != shape:
        raise UsageError(f"{data.title} images are {data.input_shape}; int8 calibration needs the exported "
                         f"model's input {shape}: build it with matching --channels/--input-size")
    print(f"int8: calibrated on {len(data.x_train)} {data.title} training images"
          + (f" fitted to {shape[0]}x{shape[1]}x{shape[2]}" if source else "")
          + " (--dataset names the data the network was trained on)", file=sys.stderr)
    return data.x_train


def _number(kind: type, minimum: float, above: bool = False):
    """An argparse type: a finite ``kind`` >= ``minimum`` (> with ``above``), refused in one line otherwise."""
    expected = f"expected {'an integer' if kind is int else 'a finite number'} {'>' if above else '>='} {minimum:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 1)
_count = _number(int, 0)
_positive = _number(float, 0, above=True)


def _network_options(parser: argparse.ArgumentParser) -> None:
    _config_option(parser, _search_option("model"))
    parser.add_argument("--variant", default="proposed", choices=VARIANTS,
                        help="proposed (split blocks + fusion), naive or shared split")
    parser.add_argument("--split", type=_integers, default=None,
                        help="factor per block, e.g. 8,2,2,4,4 (proposed; default: unsplit)")
    parser.add_argument("--factor", type=_positive_int, default=None,
                        help="branches of a naive or shared split (default: 4)")
    _config_option(parser, _search_option("width_multiplier"))
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _data_options(parser: argparse.ArgumentParser, purpose: str = "the data set") -> None:
    parser.add_argument("--dataset", default="fashion_mnist", help=f"{purpose}: {DATASET_HELP}")
    _data_path_option(parser)


def _data_path_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-path", default=None,
                        help="a local copy of the data set (default: where the data set is installed)")


def _option_type(option):
    """How the command line reads a :class:`~netsplit.search.config.SearchConfig` option, refusing bad values in one line."""
    kind, minimum = option.type.split(" | ")[0], option.metadata.get("minimum")
    if option.name == "model":
        return _model_name
    if kind == "tuple[int, ...]":
        return _integers
    if kind == "int":
        return _number(int, 1 if minimum is None else minimum)
    if kind == "float":
        return _positive if minimum is None else _number(float, minimum)
    return str


def _config_options(parser: argparse.ArgumentParser, names: tuple[str, ...] | None = None) -> None:
    """The options of :class:`~netsplit.search.config.SearchConfig` (those ``names``, if given), with its defaults and help."""
    for option in SearchConfig.options():
        if names is None or option.name in names:
            _config_option(parser, option)


def _config_option(parser: argparse.ArgumentParser, option: Field, name: str | None = None,
                   help: str | None = None) -> None:
    """One :class:`~netsplit.search.config.SearchConfig` option on the command line, with its type and default; a
    command that means something narrower by it gives it its own ``name`` and ``help``."""
    meta, dest = option.metadata, name or option.name
    flag = "--" + dest.replace("_", "-") if name else meta.get("flag", "--" + dest.replace("_", "-"))
    if option.type == "bool":
        negated = option.default
        parser.add_argument(f"--no-{flag[2:]}" if negated else flag, dest=dest,
                            action="store_false" if negated else "store_true",
                            help=help or meta.get("off", meta["help"]))
    else:
        parser.add_argument(flag, dest=dest, type=_option_type(option), default=option.default,
                            choices=meta.get("choices"), help=help or meta["help"])


def _search_option(name: str) -> Field:
    return next(option for option in SearchConfig.options() if option.name == name)


TRAINING_OPTIONS = ("dataset", "batch_size", "learning_rate", "train_size", "test_size", "seed")
"""The search options that also train a single network."""


class _Help(argparse.HelpFormatter):
    """Each option's help with its default, unless the help says it already or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default:" in text or action.default in (None, argparse.SUPPRESS) or isinstance(action.default, bool):
            return text
        shown = ",".join(map(str, action.default)) if isinstance(action.default, tuple) else "%(default)s"
        return f"{text} (default: {shown})"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=_Help, **kwargs)

    def error(self, message: str):
        stray = message.removeprefix("unrecognized arguments: ").split()
        if message.startswith("unrecognized arguments: ") and stray and stray[0] in MODELS:
            message += f" (name the model with --model {stray[0]})"
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    """The ``netsplit`` argument parser."""
    root = _Parser(prog="netsplit", description=__doc__.splitlines()[0])
    root.add_argument("--version", action="version", version=f"netsplit {__version__}")
    root.add_argument("--traceback", action="store_true", help="show where a failed run failed (any position)")
    root.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines (any position)")
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = commands.add_parser("info", help="parameters, MACs and activation memory per block")
    _network_options(info)
    info.add_argument("--input-size", type=_positive_int, default=None,
                      help="square input size (default: 32, or a .keras model's own)")
    info.add_argument("--channels", type=_positive_int, default=3, help="input channels of a built-in model")
    info.set_defaults(run=_info)

    train = commands.add_parser("train", help="train one network from scratch and print its test accuracy")
    _network_options(train)
    _config_options(train, TRAINING_OPTIONS)
    _data_path_option(train)
    _config_option(train, _search_option("baseline_epochs"), "epochs", "training epochs")
    _config_option(train, _search_option("validation_size"), help="hold this many training images out and report "
                   "accuracy on them too (default: none)")
    train.add_argument("--records", default=None, help="append the run record to this JSONL file (default: none)")
    train.set_defaults(run=_train)

    search = commands.add_parser("search", help="the block-by-block split search (resumes from its records)")
    _config_options(search)
    _data_path_option(search)
    search.add_argument("--records", default=None,
                        help="JSONL records file (default: results/<model>-<dataset>-<hash>.jsonl)")
    search.add_argument("--executor", default="sequential", choices=("sequential", "ray"),
                        help="train one network at a time here, or on a Ray cluster")
    search.add_argument("--address", default=None, help="Ray cluster address (default: start one locally)")
    search.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    search.set_defaults(run=_search)

    report = commands.add_parser("report", help="the search table (paper Table 1) from a records file")
    report.add_argument("records", help="a search's JSONL records file")
    _config_options(report, ("threshold", "reference", "start", "blocks", "candidate_factors", "fair_reference",
                             "decision"))
    report.set_defaults(candidate_factors=None)  # those the records hold
    report.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    report.set_defaults(run=_report)

    export = commands.add_parser("export", help="a trained or new network as a LiteRT model (.tflite)",
                                 usage="netsplit export [options] [MODEL.keras] OUT.tflite")
    export.add_argument("paths", nargs="+", metavar="[MODEL.keras] OUT.tflite",
                        help="a saved model to export (or build one with --model/--split) and the output file")
    _network_options(export)
    export.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="float32, float16 weights, or int8 (calibrated on --dataset)")
    export.add_argument("--input-size", type=_positive_int, default=None,
                        help="square input size (default: 32, or a .keras model's own)")
    export.add_argument("--lowering", default="measured", choices=(*LOWERINGS, "branchwise", "measured"),
                        help="each split block in the form the engine runs fastest here, timed block by block at the "
                             "export's precision (measured), or every block as grouped convolutions, masked dense ones "
                             "(the unsplit network's arithmetic), one per branch, or one per branch run branch after "
                             "branch (branchwise)")
    export.add_argument("--channels", type=_positive_int, default=3, help="input channels of a network built here")
    _data_options(export, "int8: training images to calibrate on")
    export.add_argument("--calibration-images", type=_positive_int, default=200,
                        help="int8: how many training images calibrate the quantization")
    export.set_defaults(run=_export)
    return root


def _joined_values(argv: list[str]) -> list[str]:
    """``--split -1,2`` as ``--split=-1,2``: argparse takes a value that starts with "-" for an option."""
    joined, skip = [], False
    for option, value in zip(argv, [*argv[1:], ""]):
        if skip:
            skip = False
        elif option.startswith("--") and "=" not in option and re.fullmatch(r"-[\d.][\d.,-]*", value):
            joined.append(f"{option}={value}")
            skip = True
        else:
            joined.append(option)
    return joined


@contextlib.contextmanager
def _native_stderr_silenced(silenced: bool):
    """Send what C++ libraries write to stderr to /dev/null (TensorFlow and absl print start-up lines
    there that no environment variable turns off), keeping Python's own stderr where it was."""
    if not silenced:
        yield
        return
    sys.stderr.flush()
    kept, quiet = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)
    try:
        yield
    finally:
        os.dup2(kept, 2)
        os.close(kept)
        os.close(quiet)


BACKEND_LIBRARIES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy", "openvino": "openvino"}
"""Keras's backends and the library each needs."""


def _start_keras(verbose: bool, own_process: bool) -> None:
    """Import Keras (and TensorFlow) quietly, unless ``--verbose``: TensorFlow's log lines are not ours."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for name in ("tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)  # e.g. tf.function "retracing" warnings
    with _native_stderr_silenced(own_process and not verbose and "keras" not in sys.modules):
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        library = BACKEND_LIBRARIES.get(backend)
        if library is None:
            raise UsageError(f"KERAS_BACKEND={backend} is no backend of Keras; valid backends are "
                             f"{', '.join(BACKEND_LIBRARIES)}")
        if importlib.util.find_spec(library) is None:
            raise UsageError(f"KERAS_BACKEND={backend} needs {library}, which is not installed; install it, or leave "
                             "KERAS_BACKEND unset for TensorFlow")
        import keras  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Run the command line (``sys.argv`` when ``argv`` is None) and return the exit status."""
    own_process = argv is None
    argv = _joined_values(sys.argv[1:] if argv is None else list(argv))
    flags = {flag: flag in argv for flag in GLOBAL_FLAGS}
    show_traceback = flags["--traceback"] or os.environ.get("NETSPLIT_TRACEBACK", "") not in ("", "0")
    try:
        args = parser().parse_args([arg for arg in argv if arg not in GLOBAL_FLAGS])
        if args.run is not _report:  # a report reads records: no Keras, no TensorFlow
            _start_keras(flags["--verbose"], own_process)
        return args.run(args)
    except InputError as error:
        print(f"netsplit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netsplit: interrupted; finished records are kept", file=sys.stderr)
        return 130
    except Exception as error:  # a failure inside a run: say what; the traceback on request
        if show_traceback:
            traceback.print_exc()
        said = " ".join(str(error).split())  # one line, whatever the library's message holds
        print(f"netsplit: run failed: {type(error).__name__}: {said} (--traceback shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
