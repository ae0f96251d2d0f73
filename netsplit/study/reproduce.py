"""Run the study's notebooks with papermill under a named profile of parameters, one per chapter.

    python -m netsplit.study.reproduce --profile smoke --dataset fashion_mnist [-p threshold 1.0] [--notebooks vgg16]

Executed notebooks go to ``book/<chapter>.ipynb`` (what the book shows), records to ``results/``. The
VGG16 and ResNet18 chapters are one notebook, ``notebooks/search.ipynb``, run once per model. Re-running
resumes from the records; a new threshold reuses every network already trained, and a changed training
setting writes a new records file.

Every input is checked before a notebook runs or a folder is made: bad input exits 2 with a one-line
message. A chapter that fails exits 1 with a one-line message naming the error and the executed notebook
kept for inspection (the traceback with ``--traceback`` or ``NETSPLIT_TRACEBACK=1``); chapters bound for
``book/`` run in ``_build/`` first and reach ``book/`` only once every chapter ran.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import yaml

from netsplit.choices import check_dataset
from netsplit.errors import InputError
from netsplit.runtime import SOURCE_ROOT

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

KINDS = {bool: ((bool,), "true or false"), int: ((int,), "an integer"), float: ((int, float), "a number"),
         str: ((str,), "a string"), list: ((list,), "a list"), dict: ((dict,), "a mapping")}
"""What an override may be, by the type of the notebook's default: the types accepted, in words."""


class ChapterFailed(RuntimeError):
    """A chapter's notebook raised while it ran; the message names the chapter, the error and the notebook."""


def load_profiles(path: Path | None = None) -> dict:
    return yaml.safe_load((path or SOURCE_ROOT / "profiles.yml").read_text())


def check_profile(profile: str, profiles: dict) -> None:
    """Raise unless ``profile`` is a section of profiles.yml other than ``published``."""
    if profile not in profiles or profile == "published":
        names = ", ".join(name for name in profiles if name != "published")
        raise InputError(f"unknown profile {profile!r}; profiles are {names}")


def check_value(name: str, value: object, default: object) -> None:
    """Raise unless ``value`` has the type of the notebook's ``default``; a None default or value passes,
    and an int is a number."""
    if default is None or value is None or type(default) not in KINDS:
        return
    accepted, kind = KINDS[type(default)]
    if not isinstance(value, accepted) or isinstance(value, bool) != isinstance(default, bool):
        raise InputError(f"{name} must be {kind}, got {value!r}")


def profile_example(key: str, sections: dict) -> object:
    """A value the profile gives ``key`` (in any of its sections), whose type an override must have, or None."""
    values = [section.get(key) for section in sections.values() if isinstance(section, dict)]
    return next((value for value in values if value is not None), None)


def read_value(text: str) -> object:
    """A ``-p`` value read as YAML, and as papermill reads what YAML leaves as text: ``1e-3`` a number,
    ``None`` nothing."""
    value = yaml.safe_load(text)
    if not isinstance(value, str):
        return value
    if value == "None":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def read_overrides(pairs: list[list[str]]) -> dict:
    """``-p NAME VALUE`` pairs as a dict (:func:`read_value`)."""
    try:
        return {name: read_value(value) for name, value in pairs}
    except yaml.YAMLError:
        raise InputError(f"a -p value is not YAML: {' '.join(map(' '.join, pairs))}") from None


def notebook_source(chapter: str) -> Path:
    return SOURCE_ROOT / "notebooks" / f"{CHAPTERS[chapter][0]}.ipynb"


def declared_parameters(notebook: Path) -> dict:
    """The parameters a notebook's ``parameters`` cell declares, with their defaults, read without running it."""
    cells = json.loads(notebook.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body}


def check_inputs(profile: str, dataset: str | None, notebooks: list[str], overrides: dict,
                 profiles: dict) -> dict[str, dict]:
    """Raise InputError for a wrong profile, chapter, data set, parameter or value; else each chapter's defaults."""
    check_profile(profile, profiles)
    unknown = [name for name in notebooks if name not in NOTEBOOKS]
    if unknown:
        raise InputError(f"unknown notebooks {unknown}; notebooks are {', '.join(NOTEBOOKS)}")
    if dataset is not None:
        check_dataset(dataset)
    declared = {name: declared_parameters(notebook_source(name)) for name in notebooks}
    stray = [key for key in overrides if not any(key in d for d in declared.values())]
    if stray:
        valid = sorted({key for d in declared.values() for key in d})
        raise InputError(f"no notebook takes the parameter(s) {stray}; parameters are {', '.join(valid)}")
    fixed = [f"{key} (chapter {name})" for name in notebooks for key in overrides if key in CHAPTERS[name][1]]
    if fixed:
        raise InputError(f"a chapter fixes {', '.join(fixed)}; choose chapters with --notebooks instead")
    for key, value in overrides.items():
        for defaults in declared.values():
            check_value(key, value, profile_example(key, profiles[profile]) if defaults.get(key) is None
                        else defaults.get(key))
    if "dataset" in overrides:
        check_dataset(overrides["dataset"])
    return declared


def check_searches(chapters: dict[str, dict], declared: dict[str, dict]) -> None:
    """Build each search chapter's :class:`SearchConfig` (and those of its ``search_changes``) before any
    notebook starts, so that a bad value is refused in one line rather than inside papermill."""
    from netsplit.search.config import SearchConfig

    for name, parameters in chapters.items():
        if CHAPTERS[name][0] != "search":
            continue
        options = {**declared[name], **parameters}
        for change in [{}, *options.get("search_changes", [])]:
            try:
                SearchConfig.from_options({**options, **change}, others=True)
            except InputError as error:
                raise InputError(f"chapter {name}: {error}") from None


def notebook_parameters(profile: str, notebook: str, declared: dict, dataset: str | None,
                        overrides: dict, profiles: dict) -> dict:
    """The parameters one chapter's notebook gets: the profile's `all` and chapter section, the overrides,
    then what the chapter fixes."""
    chosen = {**profiles[profile].get("all", {}), **profiles[profile].get(notebook, {}), "profile": profile}
    if dataset:
        chosen["dataset"] = dataset
    chosen.update(overrides)
    chosen.update(CHAPTERS[notebook][1])
    return {key: value for key, value in chosen.items() if key in declared}


def chapter_parameters(chapter: str, profile: str | None = None) -> dict:
    """Every parameter ``chapter`` runs with under ``profile`` (by default the one the book publishes, with its
    data set): the notebook's defaults, then the profile's."""
    profiles = load_profiles()
    published = profiles["published"]
    profile = profile or published["profile"]
    check_profile(profile, profiles)
    declared = declared_parameters(notebook_source(chapter))
    dataset = published["dataset"] if profile == published["profile"] else None
    return {**declared, **notebook_parameters(profile, chapter, declared, dataset, {}, profiles)}


def default_output(profile: str, dataset: str | None, overrides: dict, profiles: dict) -> Path:
    """Where executed chapters go: ``book/`` only for the profile the book publishes, unchanged (``train``
    false only shows its records); any other run (a lesson, a new threshold) goes to
    ``_build/reproduced/<profile>/``, so that the published chapters are never overwritten by it."""
    published = profiles.get("published", {})
    changed = {key: value for key, value in overrides.items() if (key, value) != ("train", False)}
    if profile == published.get("profile") and dataset in (None, published.get("dataset")) and not changed:
        return SOURCE_ROOT / "book"
    return SOURCE_ROOT / "_build" / "reproduced" / profile


def shown(path: Path) -> Path:
    """``path`` relative to the working folder where it lies below it, for messages."""
    path, here = path.resolve(), Path.cwd().resolve()
    return path.relative_to(here) if path.is_relative_to(here) else path


def source_hash(path: Path) -> str:
    """SHA-256 of a notebook's cells as written (type and source, not outputs nor metadata): what a published
    chapter records of the source it was executed from."""
    cells = [(cell["cell_type"], "".join(cell["source"])) for cell in json.loads(path.read_text())["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def mark_source(executed: Path, source: Path) -> None:
    """Write into ``executed``'s metadata the source notebook it ran from and that source's :func:`source_hash`."""
    notebook = json.loads(executed.read_text())
    notebook["metadata"]["netsplit"] = {"source": source.relative_to(SOURCE_ROOT).as_posix(), "source_sha256": source_hash(source)}
    executed.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def run_chapter(chapter: str, parameters: dict, path: Path, kernel: str) -> None:
    """Execute one chapter's notebook into ``path``; a failing cell raises ChapterFailed, ``path`` kept."""
    import papermill

    source, start = notebook_source(chapter), time.perf_counter()
    print(f"running {source.relative_to(SOURCE_ROOT)} with {parameters}", file=sys.stderr, flush=True)
    try:
        papermill.execute_notebook(
            str(source), str(path), parameters=parameters, kernel_name=kernel, cwd=str(SOURCE_ROOT), progress_bar=False,
            stdout_file=sys.stderr, stderr_file=sys.stderr,  # the chapter's progress, as it happens
        )
    except papermill.PapermillExecutionError as error:
        value = (error.evalue.strip().splitlines() or [""])[0]
        raise ChapterFailed(f"chapter {chapter} failed in cell [{error.exec_count}]: {error.ename}: {value}; "
                            f"the executed notebook is kept in {shown(path)}") from error
    mark_source(path, source)
    print(f"  done in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def staging() -> Path:
    """A new folder under ``_build/`` for chapters bound for ``book/`` while they run."""
    (SOURCE_ROOT / "_build").mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="book-", dir=SOURCE_ROOT / "_build"))


def execute(chapters: dict[str, dict], output_dir: Path, kernel: str) -> list[Path]:
    """Run each chapter into ``output_dir``; chapters bound for ``book/`` run in ``_build/book-*/`` and are
    moved into ``book/`` only once all of them ran."""
    book = output_dir.resolve() == (SOURCE_ROOT / "book").resolve()
    folder = staging() if book else output_dir
    folder.mkdir(parents=True, exist_ok=True)
    for chapter, parameters in chapters.items():
        run_chapter(chapter, parameters, folder / f"{chapter}.ipynb", kernel)
    if book:
        for chapter in chapters:
            os.replace(folder / f"{chapter}.ipynb", output_dir / f"{chapter}.ipynb")
        shutil.rmtree(folder)
    return [output_dir / f"{chapter}.ipynb" for chapter in chapters]


def reproduce(profile: str = "smoke", dataset: str | None = None, notebooks=NOTEBOOKS,
              output_dir: str | Path | None = None, records_dir: str | Path | None = None,
              overrides: dict | None = None, kernel: str = "python3") -> list[Path]:
    """Execute each chapter's notebook into ``output_dir/<chapter>.ipynb`` and return the executed paths;
    every input is checked first (InputError), a failing chapter raises ChapterFailed."""
    profiles = load_profiles()
    overrides = dict(overrides or {})
    declared = check_inputs(profile, dataset, list(notebooks), overrides, profiles)
    output_dir = Path(output_dir or default_output(profile, dataset, overrides, profiles))
    records_dir = Path(records_dir or SOURCE_ROOT / "results").resolve()
    overrides["records_dir"] = str(records_dir.relative_to(SOURCE_ROOT) if records_dir.is_relative_to(SOURCE_ROOT) else records_dir)
    chapters = {name: notebook_parameters(profile, name, declared[name], dataset, overrides, profiles)
                for name in notebooks}
    check_searches(chapters, declared)
    return execute(chapters, output_dir, kernel)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 2 bad input, 1 a chapter failed)."""
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
    parser.add_argument("--traceback", action="store_true", help="show the traceback of a failed chapter")
    args = parser.parse_args(argv)
    try:
        executed = reproduce(args.profile, args.dataset, args.notebooks.split(","), args.output_dir,
                             args.records_dir, read_overrides(args.p))
    except InputError as error:
        print(f"reproduce: error: {error}", file=sys.stderr)
        return 2
    except ChapterFailed as error:
        if args.traceback or os.environ.get("NETSPLIT_TRACEBACK", "") not in ("", "0"):
            traceback.print_exc()
        print(f"reproduce: {error} (--traceback shows where)", file=sys.stderr)
        return 1
    if executed and executed[0].parent.resolve() != (SOURCE_ROOT / "book").resolve():
        print(f"The published chapters in book/ are unchanged; this run's chapters are in {executed[0].parent}/",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
