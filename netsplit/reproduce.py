"""Run the study's notebooks with papermill under a named profile of parameters.

    python -m netsplit.reproduce --profile smoke --dataset fashion_mnist [-p threshold 1.0] [--notebooks vgg16]

Executed notebooks go to ``book/`` (what the book shows), records to ``results/``. Re-running
resumes from the records; a new threshold reuses every network already trained, and a changed training
setting writes a new records file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from netsplit.errors import InputError
from netsplit.study import project_root

NOTEBOOKS = ("method", "complexity", "vgg16", "resnet18", "memory", "inference", "own_network")


def load_profiles(path: Path | None = None) -> dict:
    return yaml.safe_load((path or project_root() / "profiles.yml").read_text())


def declared_parameters(notebook: Path) -> dict:
    """The parameters a notebook's ``parameters`` cell declares, with their defaults."""
    import papermill

    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(notebook)).items()}


def notebook_parameters(profile: str, notebook: str, declared: dict, dataset: str | None,
                        overrides: dict, profiles: dict) -> dict:
    """The parameters one notebook gets: the profile's `all` and own section, then the overrides."""
    if profile not in profiles:
        raise InputError(f"unknown profile {profile!r}; profiles are {', '.join(profiles)}")
    chosen = {**profiles[profile].get("all", {}), **profiles[profile].get(notebook, {}), "profile": profile}
    if dataset:
        chosen["dataset"] = dataset
    chosen.update(overrides)
    return {key: value for key, value in chosen.items() if key in declared}


def reproduce(profile: str = "smoke", dataset: str | None = None, notebooks=NOTEBOOKS,
              output_dir: str | Path | None = None, records_dir: str | Path | None = None,
              overrides: dict | None = None, kernel: str = "python3") -> list[Path]:
    """Execute each notebook into ``output_dir`` and return the executed paths."""
    import papermill

    root = project_root()
    output_dir = Path(output_dir or root / "book")
    overrides = dict(overrides or {})
    records_dir = Path(records_dir or root / "results").resolve()
    inside = records_dir.is_relative_to(root)
    overrides["records_dir"] = str(records_dir.relative_to(root) if inside else records_dir)
    profiles = load_profiles()
    unknown = [name for name in notebooks if name not in NOTEBOOKS]
    if unknown:
        raise InputError(f"unknown notebooks {unknown}; notebooks are {', '.join(NOTEBOOKS)}")
    declared = {name: declared_parameters(root / "notebooks" / f"{name}.ipynb") for name in notebooks}
    stray = [key for key in overrides if key != "records_dir" and not any(key in d for d in declared.values())]
    if stray:
        valid = sorted({key for d in declared.values() for key in d})
        raise InputError(f"no notebook takes the parameter(s) {stray}; parameters are {', '.join(valid)}")
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = []
    for name in notebooks:
        parameters = notebook_parameters(profile, name, declared[name], dataset, overrides, profiles)
        start = time.perf_counter()
        print(f"running notebooks/{name}.ipynb with {parameters}", file=sys.stderr, flush=True)
        papermill.execute_notebook(
            str(root / "notebooks" / f"{name}.ipynb"), str(output_dir / f"{name}.ipynb"),
            parameters=parameters, kernel_name=kernel, cwd=str(root), progress_bar=False,
        )
        print(f"  done in {time.perf_counter() - start:.0f} s -> {output_dir / f'{name}.ipynb'}", file=sys.stderr)
        executed.append(output_dir / f"{name}.ipynb")
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--dataset", default=None, help="fashion_mnist or cifar10 (default: the notebooks')")
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS))
    parser.add_argument("--output-dir", default=None, help="where executed notebooks go (default book/)")
    parser.add_argument("--records-dir", default=None, help="where run records go (default results/)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter, as papermill's -p (value read as YAML)")
    args = parser.parse_args(argv)
    overrides = {name: yaml.safe_load(value) for name, value in args.p}
    try:
        reproduce(args.profile, args.dataset, args.notebooks.split(","), args.output_dir, args.records_dir, overrides)
    except ValueError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
