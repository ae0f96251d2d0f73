"""The book: it builds with warnings as errors, and every chapter looks right in a real browser."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {  # page: what a reader must find there
    "intro": ["<table", "Headline results"],
    "method": ["<img", "<table", "Eq. 2"],
    "complexity": ["<img", "<table"],
    "vgg16": ["<img", "<table", "Fashion-MNIST", "proposed_I", "naive split", "shared split"],
    "resnet18": ["<img", "<table", "Fashion-MNIST", "naive split"],
    "memory": ["<img", "<table", "2048"],
    "reproducing": ["make reproduce", "papermill notebooks/vgg16.ipynb"],
    "teaching": ['class="exercise admonition', 'class="solution dropdown admonition', "Count the weights"],
    "references": ["MalekHosseini", "arXiv:2002.03302"],
}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    run = subprocess.run([book, "build", str(ROOT), "--path-output", str(out), "-W", "--keep-going"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return out / "_build" / "html"


def test_book_builds_with_warnings_as_errors(html):
    for page in CHAPTERS:
        assert (html / "book" / f"{page}.html").exists(), page


def test_notebook_chapters_offer_download_and_launch(html):
    for page in ("method", "vgg16", "memory"):
        text = (html / "book" / f"{page}.html").read_text()
        assert "btn-download-source-button" in text and "mybinder" in text and "colab" in text


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing; .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.mark.browser
@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_in_a_real_browser(html, page, tmp_path):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--window-size=1280,2000"]
    url = (html / "book" / f"{page}.html").as_uri()
    shot = tmp_path / f"{page}.png"
    subprocess.run([chromium(), *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, "a screenshot with content"
    dom = subprocess.run([chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dom))
    for expected in CHAPTERS[page]:
        assert expected in (dom if expected.startswith(("<", "class=")) else text), f"{page}: {expected!r} missing"
    assert not re.search(r"Traceback \(most recent call last\)|[A-Za-z]+Error: ", dom), f"{page} shows an error"
    assert "??" not in re.sub(r"<script.*?</script>", "", dom, flags=re.S), f"{page}: an unresolved reference"
