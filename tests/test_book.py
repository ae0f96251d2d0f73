"""The book: it builds with warnings as errors, and every chapter looks right in a real browser, offline."""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import SEARCH_TEXT

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {  # page: what a reader must find there
    "intro": ["<table", "Headline results"],
    "summary": ["<table", "Scope of reproducibility", "make reproduce PROFILE=cpu"],
    "method": ["<img", "<table", "Eq. 2"],
    "complexity": ["<img", "<table"],
    "vgg16": ["<img", "<table", "Fashion-MNIST", "proposed_I", "naive split", "shared split",
              SEARCH_TEXT["vgg16"]["title"]],
    "resnet18": ["<img", "<table", "Fashion-MNIST", "naive split", SEARCH_TEXT["resnet18"]["title"]],
    "memory": ["<img", "<table", "2048"],
    "inference": ["<img", "<table", "LiteRT", "int8"],
    "reproducing": ["make reproduce", "papermill notebooks/search.ipynb"],
    "teaching": ['class="exercise admonition', 'class="solution dropdown admonition', "Count the weights"],
    "references": ["MalekHosseini", "arXiv:2002.03302"],
}
BOOK = ROOT / "book"
LINK = re.compile(r"\]\(([\w-]+)\.(ipynb|md)(?:#([^)\s]+))?\)")
"""A link to a page of the book in MyST: ``[text](page.ipynb#section)``; groups: page, suffix, anchor."""


def toc_pages() -> list[str]:
    """The book's pages in the order of _toc.yml (the root first), by name (``vgg16``, not a path)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"], *(chapter["file"] for part in toc["parts"] for chapter in part["chapters"])]
    return [Path(name).name for name in files]


INCLUDE = re.compile(r"^```\{include\} (\S+)\n```$", re.M)
"""A MyST include of another file of book/ (the verdict table, shared by the introduction and the summary)."""


def page_source(page: str) -> str:
    """The MyST text of a page: a Markdown file with its includes, or the Markdown cells of an executed notebook."""
    if (BOOK / f"{page}.md").exists():
        return INCLUDE.sub(lambda match: (BOOK / match.group(1)).read_text(), (BOOK / f"{page}.md").read_text())
    notebook = json.loads((BOOK / f"{page}.ipynb").read_text())
    return "\n\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")


def heading_anchors(page: str) -> set[str]:
    """The anchors MyST gives the headings of ``page`` down to the level ``myst_heading_anchors`` sets."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    depth = config.get("sphinx", {}).get("config", {}).get("myst_heading_anchors", 0)
    text = re.sub(r"^```.*?^```", "", page_source(page), flags=re.M | re.S)  # a "#" line in code is no heading
    return {default_slugify(title.strip()) for hashes, title in re.findall(r"^(#{1,6}) +(.+)$", text, re.M)
            if len(hashes) <= depth}


def glue_names(page: str) -> set[str]:
    """What an executed notebook of the book glues (myst_nb's ``glue`` outputs carry a scrapbook name)."""
    notebook = json.loads((BOOK / f"{page}.ipynb").read_text())
    return {output["metadata"]["scrapbook"]["name"] for cell in notebook["cells"] if cell["cell_type"] == "code"
            for output in cell.get("outputs", []) if "scrapbook" in output.get("metadata", {})}


def verdict_rows(page: str) -> list[list[str]]:
    """The cells of each row of a page's verdict table (the rows that paste a glued verdict)."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in page_source(page).splitlines() if line.startswith("|") and "::verdict_" in line]


@pytest.mark.parametrize("page", ["intro", "summary", "references"])
def test_links_between_pages_name_pages_and_sections_that_exist(page):
    """A link to another page's section needs that heading, at a depth that gets an anchor (_config.yml)."""
    links = LINK.findall(page_source(page))
    assert links, f"{page} links to no page of the book"
    for target, suffix, anchor in links:
        assert (BOOK / f"{target}.{suffix}").exists(), f"{page} links to {target}.{suffix}, which is not in book/"
        if anchor:
            assert anchor in heading_anchors(target), f"{page} links to {target}#{anchor}: no such section"


def test_summary_comes_first_after_the_intro_and_links_to_the_chapters():
    assert toc_pages()[:2] == ["intro", "summary"], "the summary is the first page after the introduction"
    text = page_source("summary")
    linked = {target for target, _, _ in LINK.findall(text)}
    assert {"method", "complexity", "vgg16", "resnet18", "memory", "inference", "reproducing", "references"} <= linked
    for chapter in ("vgg16", "resnet18", "own_network"):
        assert f"{chapter}.ipynb::cpu_hours:" in text, f"the cost of {chapter} is glued from its chapter"
        assert f"NOTEBOOKS={chapter}" in text, f"how to re-run {chapter}"


def test_summary_rerun_commands_name_chapters_and_profiles_that_exist():
    from netsplit.study.reproduce import NOTEBOOKS

    text = page_source("summary")
    profiles = yaml.safe_load((ROOT / "profiles.yml").read_text())
    commands = re.findall(r"make reproduce PROFILE=([\w-]+) NOTEBOOKS=([\w,-]+)", text)
    assert commands
    for profile, chapters in commands:
        assert profile in profiles and profile == profiles["published"]["profile"], profile
        assert set(chapters.split(",")) <= set(NOTEBOOKS), chapters


@pytest.mark.parametrize("page", ["intro", "summary"])
def test_every_verdict_has_a_row_that_links_to_its_chapter(page):
    """Each verdict the executed chapters glue has a row; the row links to the chapter and section it rests
    on, and only its verdict cell is bold."""
    rows = verdict_rows(page)
    glued = {(chapter, name) for chapter in ("vgg16", "resnet18", "method", "memory", "inference")
             for name in glue_names(chapter) if name.startswith("verdict_")}
    shown = {(chapter, name) for row in rows for chapter, name in re.findall(r"(\w+)\.ipynb::(verdict_\w+)", row[1])}
    assert glued and shown == glued, f"{page}: verdict rows {sorted(shown)}, chapters glue {sorted(glued)}"
    for row in rows:
        chapter = re.search(r"(\w+)\.ipynb::verdict_", row[1]).group(1)
        assert any(target == chapter and anchor for target, _, anchor in LINK.findall(" ".join(row))), \
            f"{page}: the {chapter} verdict row links to no section of {chapter}"
        bold = [i for i, cell in enumerate(row) if "**" in cell]
        assert bold == [1], f"{page}: only the verdict cell is bold, not cells {bold}"


def test_intro_reading_guide_links_to_every_page():
    sections = {part.split("\n", 1)[0].strip(): part for part in re.split(r"^## ", page_source("intro"), flags=re.M)}
    linked = {target for target, _, _ in LINK.findall(sections["How to read this book"])}
    assert set(toc_pages()[1:]) <= linked, f"the reading guide misses {sorted(set(toc_pages()[1:]) - linked)}"


def notebook_cells(name: str) -> dict[str, dict]:
    return {cell["id"]: cell for cell in json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]}


@pytest.mark.parametrize("name", ["memory", "inference"])
def test_resnet18_splits_are_not_called_by_the_papers_vgg16_names_in_the_text(name):
    """The paper names proposed_I and proposed_II on VGG16 only; ResNet18's splits go by their factors."""
    for cell in notebook_cells(name).values():
        text = re.sub(r"\s+", " ", "".join(cell["source"]))
        assert not re.search(r"(?i)resnet18\W{0,4}proposed_I|proposed_I+ (?:of|on|for|in) resnet18", text), \
            f"notebooks/{name}.ipynb, cell {cell['id']}: ResNet18 named proposed_I"


def test_memory_tables_name_resnet18_splits_by_their_factors():
    """Counted and measured memory: the paper's proposed_I is a VGG16 name; ResNet18's same split goes by its factors."""
    from netsplit.study.chapters import MEMORY_NETWORKS, counted_memory, measured_memory

    counted = counted_memory(MEMORY_NETWORKS, [32])
    measured = measured_memory([ROOT / "results" / "memory-cpu.jsonl"])
    for frame in (counted, measured):
        resnet18 = set(frame.loc[frame["model"] == "resnet18", "network"])
        assert resnet18 and not resnet18 & {"proposed_I", "proposed_II"}, resnet18
        assert "8,2,2,4,4" in resnet18 and "proposed_I" in set(frame.loc[frame["model"] == "vgg16", "network"])


def test_inference_results_name_resnet18_splits_by_their_factors():
    """The inference chapter's measurements, as read: no ResNet18 network is proposed_*."""
    from netsplit.study.inference import read_results

    records = read_results(ROOT / "results" / "inference-cpu.jsonl")
    resnet18 = set(records.loc[records["model"] == "resnet18", "network"].dropna())
    assert resnet18 and not resnet18 & {"proposed_I", "proposed_II"}, resnet18
    assert "proposed_I" in set(records.loc[records["model"] == "vgg16", "network"].dropna())


def bib_entries() -> dict:
    from pybtex.database import parse_file

    return parse_file(str(BOOK / "references.bib")).entries


def test_every_citation_is_in_the_bibliography_and_every_entry_is_cited():
    keys = set(bib_entries())
    sources = [page_source(page) for page in toc_pages()]
    cited = {key.strip() for text in sources for group in re.findall(r"\{cite[:\w]*\}`([^`]+)`", text)
             for key in group.split(",")}
    assert cited and cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"
    assert keys <= cited, f"in references.bib but cited nowhere, so not in the bibliography: {sorted(keys - cited)}"


def test_bibliography_entries_are_real_references():
    """Each entry names its authors, title and year, and where it appeared; none stands in for an unknown work."""
    for key, entry in bib_entries().items():
        assert entry.persons.get("author"), key
        assert {"title", "year"} <= set(entry.fields), key
        assert {"journal", "booktitle", "doi", "url", "eprint"} & set(entry.fields), f"{key}: where it appeared"
        assert not re.search(r"reference \[\d+\]", " ".join(entry.fields.values()), re.I), \
            f"{key} stands in for a numbered reference of the paper"
    assert "malekhosseini2020splitting" in bib_entries()


def test_references_page_says_what_became_of_the_papers_references_13_and_20():
    text = page_source("references")
    for number in ("[13]", "[20]"):
        assert number in text, f"the references page says what {number} of the paper is, or that it is not known"
    assert "{bibliography}" in text


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    run = subprocess.run([book, "build", str(ROOT), "--path-output", str(out), "-W", "--keep-going"],
                         capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return out / "_build" / "html"


@pytest.mark.slow
def test_book_builds_with_warnings_as_errors(html):
    for page in CHAPTERS:
        assert (html / "book" / f"{page}.html").exists(), page


@pytest.mark.slow
def test_notebook_chapters_offer_download_and_launch_only_with_a_repository(html):
    """Launch and repository links name the repository in _config.yml; with its URL empty there are none."""
    url = (yaml.safe_load((ROOT / "_config.yml").read_text()).get("repository") or {}).get("url") or ""
    repo = "/".join(url.rstrip("/").split("/")[-2:]) if url else ""
    for page in ("method", "vgg16", "memory"):
        assert "btn-download-source-button" in (html / "book" / f"{page}.html").read_text(), page
    for path in html.rglob("*.html"):
        links = re.findall(r'href="([^"]*(?:binder|colab|github|gitlab)[^"]*)"', path.read_text(), re.I)
        assert all(repo and repo in link for link in links), f"{path.name}: {links}"


EXTERNAL = re.compile(r"""(?:<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc|<link\b[^>]*\bhref)"""
                      r"""=["']?((?:https?:)?//[^"' >]+)|(?:url\(|@import)\s*["']?((?:https?:)?//[^"')\s]+)""", re.I)


def external_references(html: Path) -> list[str]:
    """What pages and style sheets under ``html`` load from outside it: scripts, styles, fonts, images."""
    return [f"{path.relative_to(html)}: {a or b}" for path in [*html.rglob("*.html"), *html.rglob("*.css")]
            for a, b in EXTERNAL.findall(path.read_text(errors="replace"))]


@pytest.mark.slow
def test_book_loads_nothing_from_outside(html):
    assert not external_references(html)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing; .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@functools.cache
def offline() -> list[str]:
    """A prefix that runs a command without a network (``unshare --net``) where this user may."""
    try:
        ok = subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        ok = False
    return ["unshare", "--net"] if ok else []


def page_requests(net_log: Path) -> list[str]:
    """URLs a page asked for over the network, from Chromium's net log (the browser's own requests left out)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [params["url"] for event in log["events"] if event["type"] == start
            and "url" in (params := event.get("params", {})) and params.get("initiator") != "not an origin"]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """One folder for every chapter's screenshot; its path is printed (pytest -s shows it)."""
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots of the chapters: {folder}")
    return folder


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_in_a_real_browser(html, page, tmp_path, screenshots):
    """With no network: the chapter shows its content, typesets every formula and requests nothing outside."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=5000", "--window-size=1280,3000"]
    browser = [*offline(), chromium(), *flags]
    page_html = html / "book" / f"{page}.html"
    url = page_html.as_uri()
    shot = screenshots / f"{page}.png"
    subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True)
    assert shot.exists() and shot.stat().st_size > 20_000, "a screenshot with content"
    net_log = tmp_path / "net-log.json"
    dom = subprocess.run([*browser, f"--log-net-log={net_log}", "--dump-dom", url],
                         capture_output=True, text=True).stdout
    assert not [u for u in page_requests(net_log) if not u.startswith(("file:", "data:", "blob:"))]
    formulas = len(re.findall(r'class="math notranslate', page_html.read_text()))
    assert len(re.findall(r"<mjx-container\b", dom)) == formulas, f"{page}: {formulas} formulas, not all typeset"
    assert not re.search(r"<mjx-merror\b", dom), f"{page}: MathJax could not typeset a formula"
    visible = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", visible))
    assert not re.search(r"\\[(\[]", text), f"{page} shows raw TeX"
    for expected in CHAPTERS[page]:
        assert expected in (dom if expected.startswith(("<", "class=")) else text), f"{page}: {expected!r} missing"
    assert not re.search(r"Traceback \(most recent call last\)|[A-Za-z]+Error: ", dom), f"{page} shows an error"
    assert "??" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S), f"{page}: an unresolved reference"
