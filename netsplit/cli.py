"""Command line: ``netsplit info | train | search | report | export``.

Exit status 0 on success, 2 on bad input (a one-line message, no traceback), 1 when a run fails
(a short message; the traceback with ``--traceback`` or ``NETSPLIT_TRACEBACK=1``).
Progress goes to stderr; ``--json`` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from functools import partial

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras starts: TensorFlow's C++ start-up lines

from netsplit.errors import InputError  # noqa: E402
from netsplit.export import PRECISIONS  # noqa: E402
from netsplit.models import MODELS, VARIANTS  # noqa: E402


DATASET_HELP = "cifar10, fashion_mnist, folder:PATH (a sub-folder of images per class) or npz:PATH"


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
    from netsplit.networks import is_network_file, load_network, split_network

    if is_network_file(args.model):
        if args.variant != "proposed" or args.factor is not None or args.width_multiplier != 1.0:
            raise UsageError("a .keras model takes --split only (no --variant, --factor or --width-multiplier)")
        return split_network(load_network(args.model), args.split)
    return build_model(args.model, args.variant, args.split, args.factor, input_shape=input_shape,
                       num_classes=num_classes, width_multiplier=args.width_multiplier)


def _model_name(text: str) -> str:
    """``--model``: a built-in model, or a .keras file of your own network."""
    from netsplit.networks import is_network_file

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
    from netsplit.models import check_factors
    from netsplit.records import RecordStore, config_hash
    from netsplit.train import TrainConfig, train_network

    from netsplit.networks import is_network_file, load_network

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr)
    shape = tuple(load_network(args.model).input_shape[1:]) if is_network_file(args.model) else None
    data = load_dataset(args.dataset, args.train_size, args.test_size, seed=args.seed, path=args.data_path,
                        image_shape=shape, validation_size=args.validation_size)
    build = partial(_build, args, data.input_shape, data.num_classes)
    build()  # bad options fail here, before the data is augmented and the first epoch starts
    options = {k: v for k, v in vars(args).items() if k not in ("run", "json", "records", "command")}
    key = config_hash(options)
    store = RecordStore(args.records, key) if args.records else None
    model, record = train_network(
        build, data, config, args.seed, store, experiment="train", config_hash=key, model=args.model,
        variant=args.variant, split=list(check_factors(args.split)), factor=args.factor,
        width=args.width_multiplier,
    )
    if args.json:
        print(record.to_json())
    else:
        validation = "" if record.validation_accuracy is None else \
            f", validation accuracy {record.validation_accuracy:.2%} ({record.validation_size:,} held-out images)"
        print(f"{model.name} on {data.title}: test accuracy {record.accuracy:.2%}{validation}, "
              f"{record.params:,} parameters, {record.train_seconds:.1f} s")
    return 0


def _integers(text: str) -> tuple[int, ...]:
    """Comma-separated integers, as ``--split 8,2,2,4,4`` or ``--factors 2,4,6,8`` give them."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 8,2,2,4,4, got {text!r}") from None


def _print_outcome(result, as_json: bool) -> None:
    from netsplit.search import outcome_rows

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
    from netsplit.search import SearchConfig, run_search

    config = SearchConfig(
        model=args.model, dataset=args.dataset, threshold=args.threshold,
        factors=args.factors, blocks=args.blocks,
        baseline_epochs=args.baseline_epochs, finetune_epochs=args.finetune_epochs, inherit=args.inherit,
        reference=args.reference, seeds=args.seeds, seed=args.seed, width_multiplier=args.width_multiplier,
        train_size=args.train_size, test_size=args.test_size, batch_size=args.batch_size, learning_rate=args.lr,
        finetune_learning_rate=args.finetune_lr, validation_size=args.validation_size, sweep=args.sweep,
    )
    result = run_search(config, args.records, args.executor, args.address, args.data_path)
    _print_outcome(result, args.json)
    return 0


def _report(args) -> int:
    from pathlib import Path

    from netsplit.records import read_records
    from netsplit.search import replay

    if not Path(args.records).is_file():
        raise UsageError(f"no records file at {args.records}")
    _print_outcome(replay(read_records(args.records), args.threshold, args.reference), args.json)
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
        import keras

        import netsplit.layers  # noqa: F401  (registers the layers a .keras file names)

        if Path(source[0]).suffix != ".keras" or not Path(source[0]).is_file():
            raise UsageError(f"no .keras model file at {source[0]}")
        if args.split is not None:
            raise UsageError("--split describes a network to build; leave it out when exporting a .keras file")
        model = keras.saving.load_model(source[0])
    else:
        size = args.input_size or 32
        model = _build(args, (size, size, args.channels))
    representative = None
    if args.precision == "int8":
        from netsplit.data import load_dataset

        data = load_dataset(args.dataset, args.calibration_images, seed=0, path=args.data_path)
        size, channels = args.input_size or model.input_shape[1], model.input_shape[-1]
        if data.input_shape != (size, size, channels):
            raise UsageError(f"{data.title} images are {data.input_shape}; int8 calibration needs the exported "
                             f"model's input ({size}, {size}, {channels}): build it with matching --channels/--input-size")
        representative = data.x_train
    path = export(model, out, args.precision, representative, args.input_size)
    ops = op_counts(path)
    summary = {"path": str(path), "model": model.name, "precision": args.precision,
               "bytes": path.stat().st_size, "convolutions": ops.get("CONV_2D", 0)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{path}: {model.name}, {args.precision}, {summary['bytes'] / 2**20:.2f} MiB, "
              f"{summary['convolutions']} convolution operators")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="vgg16", type=_model_name,
                        help=f"{', '.join(MODELS)}, or a .keras file of your own CNN")
    parser.add_argument("--variant", default="proposed", choices=VARIANTS,
                        help="proposed (split blocks + fusion), naive or shared split")
    parser.add_argument("--split", type=_integers, default=None, help="factor per block, e.g. 8,2,2,4,4 (proposed)")
    parser.add_argument("--factor", type=_positive_int, default=None,
                        help="branches of a naive or shared split (default 4)")
    parser.add_argument("--width-multiplier", type=float, default=1.0, help="scales every layer's filters")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    """The ``netsplit`` argument parser."""
    root = _Parser(prog="netsplit", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = commands.add_parser("info", help="parameters, MACs and activation memory per block")
    _network_options(info)
    info.add_argument("--input-size", type=_positive_int, default=None, help="square input (default: 32, or the model's)")
    info.add_argument("--channels", type=_positive_int, default=3)
    info.set_defaults(run=_info)

    train = commands.add_parser("train", help="train one network and print its test accuracy")
    _network_options(train)
    train.add_argument("--dataset", default="fashion_mnist", help=DATASET_HELP)
    train.add_argument("--data-path", default=None, help="local copy of the data set")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=128)
    train.add_argument("--lr", type=float, default=0.05)
    train.add_argument("--train-size", type=_positive_int, default=None, help="random subset of the training set")
    train.add_argument("--test-size", type=_positive_int, default=None)
    train.add_argument("--validation-size", type=_positive_int, default=None,
                       help="hold this many training images out and report accuracy on them too")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--records", default=None, help="append the run record to this JSONL file")
    train.set_defaults(run=_train)

    search = commands.add_parser("search", help="the block-by-block split search (resumes from its records)")
    search.add_argument("--model", default="vgg16", type=_model_name,
                        help=f"{', '.join(MODELS)}, or a .keras file of your own CNN")
    search.add_argument("--dataset", default="fashion_mnist", help=DATASET_HELP)
    search.add_argument("--data-path", default=None)
    search.add_argument("--threshold", type=float, default=0.5, help="accuracy drop in percentage points")
    search.add_argument("--factors", type=_integers, default=(2, 4, 6, 8), help="candidate factors, ascending")
    search.add_argument("--blocks", type=_integers, default=None, help="blocks to search, ascending (default: all)")
    search.add_argument("--baseline-epochs", type=int, default=10)
    search.add_argument("--finetune-epochs", type=int, default=3)
    search.add_argument("--no-inherit", dest="inherit", action="store_false", help="train candidates from scratch")
    search.add_argument("--reference", default="block", help="block (paper) or original")
    search.add_argument("--seeds", type=int, default=1, help="seeds per network; accept on the mean")
    search.add_argument("--seed", type=int, default=0)
    search.add_argument("--width-multiplier", type=float, default=1.0, help="scales every layer's filters")
    search.add_argument("--train-size", type=_positive_int, default=None)
    search.add_argument("--test-size", type=_positive_int, default=None)
    search.add_argument("--validation-size", type=_positive_int, default=None,
                        help="decide on this many images held out of training (default: on the test set)")
    search.add_argument("--sweep", action="store_true",
                        help="train every candidate factor of a block, also past the first that fails")
    search.add_argument("--batch-size", type=_positive_int, default=128)
    search.add_argument("--lr", type=float, default=0.05)
    search.add_argument("--finetune-lr", type=float, default=None,
                        help="fine-tune split candidates at this rate, without warm-up (default: as from scratch)")
    search.add_argument("--records", default=None, help="JSONL records file (default under results/)")
    search.add_argument("--executor", default="sequential", help="sequential or ray")
    search.add_argument("--address", default=None, help="Ray cluster address (default: start one locally)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(run=_search)

    report = commands.add_parser("report", help="the search table (paper Table 1) from a records file")
    report.add_argument("records")
    report.add_argument("--threshold", type=float, default=None,
                        help="accuracy drop in percentage points (the records serve any threshold)")
    report.add_argument("--reference", default="block", help="block (paper) or original")
    report.add_argument("--json", action="store_true")
    report.set_defaults(run=_report)

    export = commands.add_parser("export", help="a trained or new network as a LiteRT model (.tflite)")
    export.add_argument("paths", nargs="+", metavar="[MODEL.keras] OUT.tflite",
                        help="a saved model to export (or build one with --model/--split) and the output file")
    _network_options(export)
    export.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="float32, float16 weights, or int8 (calibrated on --dataset)")
    export.add_argument("--input-size", type=_positive_int, default=None, help="square input size (default: the model's)")
    export.add_argument("--channels", type=_positive_int, default=3, help="input channels of a network built here")
    export.add_argument("--dataset", default="fashion_mnist", help="int8: training images to calibrate on")
    export.add_argument("--data-path", default=None)
    export.add_argument("--calibration-images", type=_positive_int, default=200)
    export.set_defaults(run=_export)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    show_traceback = "--traceback" in argv or os.environ.get("NETSPLIT_TRACEBACK", "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--traceback"]
    try:
        args = parser().parse_args(argv)
        return args.run(args)
    except InputError as error:
        print(f"netsplit: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netsplit: interrupted; finished records are kept", file=sys.stderr)
        return 1
    except Exception as error:  # a failure inside a run: say what; the traceback on request
        if show_traceback:
            traceback.print_exc()
        print(f"netsplit: run failed: {type(error).__name__}: {error} (--traceback shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
