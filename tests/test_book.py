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

from netsplit.study import MODEL_STUDIES

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {  # page: what a reader must find there
    "intro": ["<table", "Headline results"],
    "method": ["<img", "<table", "Eq. 2"],
    "complexity": ["<img", "<table"],
    "vgg16": ["<img", "<table", "Fashion-MNIST", "proposed_I", "naive split", "shared split",
              MODEL_STUDIES["vgg16"].title],
    "resnet18": ["<img", "<table", "Fashion-MNIST", "naive split", MODEL_STUDIES["resnet18"].title],
    "memory": ["<img", "<table", "2048"],
    "inference": ["<img", "<table", "LiteRT", "int8"],
    "reproducing": ["make reproduce", "papermill notebooks/search.ipynb"],
    "teaching": ['class="exercise admonition', 'class="solution dropdown admonition', "Count the weights"],
    "references": ["MalekHosseini", "arXiv:2002.03302"],
}
@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    run = subprocess.run([book, "build", str(ROOT), "--path-output", str(out), "-W", "--keep-going"],
                         capture_output=True, text=True, timeout=600)
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
        ok = subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=30).returncode == 0
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
    subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, "a screenshot with content"
    net_log = tmp_path / "net-log.json"
    dom = subprocess.run([*browser, f"--log-net-log={net_log}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
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
