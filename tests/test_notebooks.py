"""The notebooks: clean sources, a smoke run of all of them through papermill, nbval, bad parameters."""

import ast
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from netsplit.records import read_records
from netsplit.study.reproduce import CHAPTERS, NOTEBOOKS, load_profiles, notebook_parameters, reproduce
from helpers import SEARCH_TEXT

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_sources_are_clean_with_a_plain_parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "no outputs in git"
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], "one parameters cell, the first code cell"
    for node in ast.parse("".join(tagged[0]["source"])).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds only assignments"
        ast.literal_eval(node.value)  # plain defaults, nothing derived


def test_reproduce_rejects_parameters_no_notebook_takes():
    with pytest.raises(ValueError, match=r"no notebook takes the parameter\(s\) \['treshold'\]"):
        reproduce("smoke", overrides={"treshold": 1.0})
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        reproduce("fast", notebooks=["method"])
    with pytest.raises(ValueError, match=r"a chapter fixes model \(chapter vgg16\)"):
        reproduce("smoke", notebooks=["vgg16"], overrides={"model": "resnet18"})


def test_the_model_chapters_run_one_search_notebook_with_their_model():
    assert {CHAPTERS[model][0] for model in SEARCH_TEXT} == {"search"}
    assert {source for source, _ in CHAPTERS.values()} == {path.stem for path in SOURCES}
    declared = {"model": "vgg16", "candidate_factors": [2, 4, 6, 8], "profile": "custom", "threshold": 0.5}
    for model in SEARCH_TEXT:
        parameters = notebook_parameters("smoke", model, declared, None, {"threshold": 1.0}, load_profiles())
        assert parameters == {"model": model, "candidate_factors": [2, 4], "profile": "smoke", "threshold": 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("parameters,message", [
    ({"model": "alexnet"}, "valid models are vgg16, resnet18"),
    ({"threshold": -1.0}, "threshold must be a finite, non-negative number"),
    ({"candidate_factors": [4, 2]}, "strictly ascending"),
])
def test_bad_parameters_fail_in_the_first_cells_with_the_library_message(tmp_path, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(ROOT / "notebooks" / "search.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"records_dir": str(tmp_path), **parameters},
                                   kernel_name="python3", progress_bar=False, cwd=str(ROOT))
    assert message in str(failure.value)
    assert failure.value.cell_index <= 3, "validation happens right after the parameters"
    assert not list(tmp_path.glob("*.jsonl")), "nothing was trained"


@pytest.fixture(scope="module")
def executed(tmp_path_factory, fashion_dir):
    """Every chapter run with the smoke profile as a reader re-runs the book: every chapter resumes
    from the committed records (a search trained from nothing: tests/test_search_real.py)."""
    folder = tmp_path_factory.mktemp("smoke")
    (folder / "results").mkdir()
    committed = {path.name: path.read_bytes() for model in (*SEARCH_TEXT, "fashion_cnn")
                 for path in (ROOT / "results").glob(f"{model}-fashion_mnist-*.jsonl")}
    for name, content in committed.items():
        (folder / "results" / name).write_bytes(content)
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        paths = reproduce("smoke", "fashion_mnist", NOTEBOOKS, folder / "book", folder / "results")
    return folder, paths, committed, log.getvalue()


@pytest.mark.slow
def test_every_notebook_runs_with_the_smoke_profile(executed):
    folder, paths, committed, log = executed
    assert committed, "the published smoke records are in results/"
    assert "block 5: factor" in log, "a chapter's progress reaches the terminal while it runs"
    for name, content in committed.items():
        assert (folder / "results" / name).read_bytes() == content, f"{name}: re-running the chapters trained more"
    assert [p.stem for p in paths] == list(NOTEBOOKS)
    for path in paths:
        cells = json.loads(path.read_text())["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
        assert not [o for o in outputs if o["output_type"] == "error"], path.name
        assert any({"image/png", "image/svg+xml"} & set(o.get("data", {})) for o in outputs), f"{path.name} shows a plot"
    for name, text in SEARCH_TEXT.items():
        chapter = (folder / "book" / f"{name}.ipynb").read_text()
        assert "Fashion-MNIST (2,000 train / 1,000 test images" in chapter, "tables and plots name the data set"
        assert "Results of the `smoke` profile" in chapter
        assert text["title"] in chapter, "the chapter glues its own title"
    records = [r for path in (folder / "results").glob("*.jsonl") for r in read_records(path)]
    assert {r.model for r in records} == {"vgg16", "resnet18", "fashion_cnn.keras"}, "the own-network chapter's CNN too"
    assert {r.dataset for r in records} == {"fashion_mnist"}


@pytest.mark.slow
def test_an_executed_search_chapter_passes_nbval_lax(executed):
    """The chapter readers re-run with their own thresholds, run again as saved, parameters and all (papermill
    has just run every chapter's cells once, and the ResNet18 chapter is the same notebook: running the others
    again would check nothing new)."""
    folder, paths, *_ = executed
    [chapter] = [path for path in paths if path.stem == "vgg16"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", str(chapter)],
                         cwd=folder, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout.splitlines()[-1]


def test_only_the_published_profile_as_it_is_writes_into_the_book():
    from netsplit.study.reproduce import default_output

    profiles = load_profiles()
    published = profiles["published"]
    assert default_output(published["profile"], None, {}, profiles) == ROOT / "book"
    assert default_output(published["profile"], published["dataset"], {}, profiles) == ROOT / "book"
    elsewhere = ROOT / "_build" / "reproduced" / published["profile"]
    assert default_output(published["profile"], None, {"threshold": 2.0}, profiles) == elsewhere
    assert default_output(published["profile"], None, {"train": False}, profiles) == ROOT / "book", "shows the records"
    assert default_output(published["profile"], None, {"train": False, "threshold": 2.0}, profiles) == elsewhere
    assert default_output(published["profile"], "cifar10", {}, profiles) == elsewhere
    other = next(name for name in profiles if name not in ("published", published["profile"]))
    assert default_output(other, None, {}, profiles) == ROOT / "_build" / "reproduced" / other
    with pytest.raises(ValueError, match="unknown profile 'published'"):
        reproduce("published", notebooks=["method"])


@pytest.mark.slow
def test_a_chapter_shown_from_its_records_trains_nothing_and_names_what_they_lack(tmp_path, fashion_dir):
    results = tmp_path / "results"
    results.mkdir()
    for path in (ROOT / "results").glob("vgg16-fashion_mnist-*.jsonl"):
        (results / path.name).write_bytes(path.read_bytes())
    dropped = []
    for networks in results.glob("*-networks.jsonl"):  # the smoke profile's, and the published one's
        lines = networks.read_text().splitlines(keepends=True)
        last = max(i for i, line in enumerate(lines) if json.loads(line)["experiment"].startswith("thin: "))
        dropped.append(json.loads(lines.pop(last)))
        networks.write_text("".join(line for line in lines if json.loads(line)["experiment"] != "found by search"))
    before = {path.name: path.read_bytes() for path in results.iterdir()}
    [chapter] = reproduce("smoke", "fashion_mnist", ["vgg16"], tmp_path / "book", results, {"train": False})
    assert {path.name: path.read_bytes() for path in results.iterdir()} == before, "nothing trained, nothing written"
    text = chapter.read_text()
    assert "Not trained yet" in text and any(f"{r['experiment']} (seed {r['seed']})" in text for r in dropped)
    assert "verdict_vgg16_thinning_params" in text, "the verdicts are glued from what the records hold"
    assert "1,2,1,1,1: not trained" in text and "which has not been trained from scratch yet" in text, \
        "the found split's row is marked, and the chapter goes on to its end"
    assert "make reproduce PROFILE=smoke NOTEBOOKS=vgg16` trains them" in text, "the profile's own threshold unnamed"
    [unfinished] = reproduce("smoke", "fashion_mnist", ["vgg16"], tmp_path / "other", results,
                             {"train": False, "threshold": 50.0})
    assert {path.name: path.read_bytes() for path in results.iterdir()} == before, "a path the records lack trains nothing"
    text = unfinished.read_text()
    assert "The search's path needs the network" in text and "has not found its split yet" in text


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_each_published_chapter_was_executed_from_its_current_source(chapter):
    from netsplit.study.reproduce import notebook_source, source_hash

    executed = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text())
    recorded = executed["metadata"].get("netsplit", {})
    source = notebook_source(chapter)
    assert recorded.get("source") == source.relative_to(ROOT).as_posix(), f"book/{chapter}.ipynb names no source"
    assert recorded.get("source_sha256") == source_hash(source), \
        f"book/{chapter}.ipynb was executed from an older {source.name}: republish it with make reproduce"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_a_notebooks_search_options_default_to_search_configs(path):
    """SearchConfig is the one source of a search's defaults: a chapter's own values belong in profiles.yml."""
    from dataclasses import fields

    from netsplit.search.config import SearchConfig
    from netsplit.study.reproduce import declared_parameters

    defaults = {f.name: f.default for f in fields(SearchConfig) if f.init}
    declared = declared_parameters(path)
    differ = {name: value for name, value in declared.items() if name in defaults
              and (tuple(value) if isinstance(value, list) else value) != defaults[name]}
    assert differ == {}, f"{path.name} restates search options with other defaults than SearchConfig's"


def test_the_search_chapter_takes_every_search_option_as_a_parameter():
    """Every SearchConfig option can be given to the search chapter with ``-p`` (or a profile)."""
    from netsplit.search.config import SearchConfig
    from netsplit.study.reproduce import declared_parameters

    declared = declared_parameters(ROOT / "notebooks" / "search.ipynb")
    assert [o.name for o in SearchConfig.options() if o.name not in declared] == []
