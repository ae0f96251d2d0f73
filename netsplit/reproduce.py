"""Run the study's notebooks with papermill under a named profile of parameters, one per chapter.

    python -m netsplit.reproduce --profile smoke --dataset fashion_mnist [-p threshold 1.0] [--notebooks vgg16]

Executed notebooks go to ``book/<chapter>.ipynb`` (what the book shows), records to ``results/``. The
VGG16 and ResNet18 chapters are one notebook, ``notebooks/search.ipynb``, run once per model. Re-running
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
from netsplit.runtime import project_root

CHAPTERS = {
    "method": ("method", {}),
    "complexity": ("complexity", {}),
    "vgg16": ("search", {"model": "vgg16"}),
    "resnet18": ("search", {"model": "resnet18"}),
    "memory": ("memory", {}),
    "inference": ("inference", {}),
    "own_network": ("own_network", {}),
}
"""Each chapter: its source notebook (``notebooks/<name>.ipynb``) and the parameters the chapter fixes."""

NOTEBOOKS = tuple(CHAPTERS)
"""The chapter names in the book's order: what ``--notebooks`` selects and profiles.yml's sections name."""


def load_profiles(path: Path | None = None) -> dict:
    return yaml.safe_load((path or project_root() / "profiles.yml").read_text())


def declared_parameters(notebook: Path) -> dict:
    """The parameters a notebook's ``parameters`` cell declares, with their defaults."""
    import papermill

    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(notebook)).items()}


def notebook_parameters(profile: str, notebook: str, declared: dict, dataset: str | None,
                        overrides: dict, profiles: dict) -> dict:
    """The parameters one chapter's notebook gets: the profile's `all` and chapter section, the overrides,
    then what the chapter fixes."""
    if profile not in profiles or profile == "published":
        names = ", ".join(name for name in profiles if name != "published")
        raise InputError(f"unknown profile {profile!r}; profiles are {names}")
    chosen = {**profiles[profile].get("all", {}), **profiles[profile].get(notebook, {}), "profile": profile}
    if dataset:
        chosen["dataset"] = dataset
    chosen.update(overrides)
    chosen.update(CHAPTERS[notebook][1])
    return {key: value for key, value in chosen.items() if key in declared}


def default_output(profile: str, dataset: str | None, overrides: dict, profiles: dict) -> Path:
    """Where executed chapters go: ``book/`` only for the profile the book publishes, unchanged;
    any other run (a lesson, a new threshold) goes to ``_build/reproduced/<profile>/``, so that the
    published chapters are never overwritten by it."""
    published = profiles.get("published", {})
    if profile == published.get("profile") and dataset in (None, published.get("dataset")) and not overrides:
        return project_root() / "book"
    return project_root() / "_build" / "reproduced" / profile


def reproduce(profile: str = "smoke", dataset: str | None = None, notebooks=NOTEBOOKS,
              output_dir: str | Path | None = None, records_dir: str | Path | None = None,
              overrides: dict | None = None, kernel: str = "python3") -> list[Path]:
    """Execute each chapter's notebook into ``output_dir/<chapter>.ipynb`` and return the executed paths."""
    import papermill

    root = project_root()
    profiles = load_profiles()
    overrides = dict(overrides or {})
    output_dir = Path(output_dir or default_output(profile, dataset, overrides, profiles))
    records_dir = Path(records_dir or root / "results").resolve()
    inside = records_dir.is_relative_to(root)
    overrides["records_dir"] = str(records_dir.relative_to(root) if inside else records_dir)
    unknown = [name for name in notebooks if name not in NOTEBOOKS]
    if unknown:
        raise InputError(f"unknown notebooks {unknown}; notebooks are {', '.join(NOTEBOOKS)}")
    sources = {name: root / "notebooks" / f"{CHAPTERS[name][0]}.ipynb" for name in notebooks}
    declared = {name: declared_parameters(source) for name, source in sources.items()}
    stray = [key for key in overrides if key != "records_dir" and not any(key in d for d in declared.values())]
    if stray:
        valid = sorted({key for d in declared.values() for key in d})
        raise InputError(f"no notebook takes the parameter(s) {stray}; parameters are {', '.join(valid)}")
    fixed = [f"{key} (chapter {name})" for name in notebooks for key in overrides if key in CHAPTERS[name][1]]
    if fixed:
        raise InputError(f"a chapter fixes {', '.join(fixed)}; choose chapters with --notebooks instead")
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = []
    for name in notebooks:
        parameters = notebook_parameters(profile, name, declared[name], dataset, overrides, profiles)
        start = time.perf_counter()
        print(f"running {sources[name].relative_to(root)} with {parameters}", file=sys.stderr, flush=True)
        papermill.execute_notebook(
            str(sources[name]), str(output_dir / f"{name}.ipynb"),
            parameters=parameters, kernel_name=kernel, cwd=str(root), progress_bar=False,
            stdout_file=sys.stderr, stderr_file=sys.stderr,  # the chapter's progress, as it happens
        )
        print(f"  done in {time.perf_counter() - start:.0f} s -> {output_dir / f'{name}.ipynb'}", file=sys.stderr)
        executed.append(output_dir / f"{name}.ipynb")
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--dataset", default=None, help="fashion_mnist or cifar10 (default: the notebooks')")
    parser.add_argument("--notebooks", default=",".join(NOTEBOOKS))
    parser.add_argument("--output-dir", default=None,
                        help="where executed notebooks go (default: book/ for the published profile as it is, "
                             "else _build/reproduced/<profile>/)")
    parser.add_argument("--records-dir", default=None, help="where run records go (default results/)")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter, as papermill's -p (value read as YAML)")
    args = parser.parse_args(argv)
    overrides = {name: yaml.safe_load(value) for name, value in args.p}
    try:
        executed = reproduce(args.profile, args.dataset, args.notebooks.split(","), args.output_dir,
                             args.records_dir, overrides)
    except InputError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    if executed and executed[0].parent != project_root() / "book":
        print(f"The published chapters in book/ are unchanged; this run's chapters are in {executed[0].parent}/",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
