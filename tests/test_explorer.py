"""The threshold explorer: its data agree with replay at every threshold, its HTML is self-contained, and a
real browser shows the split replay finds at the threshold the slider is moved to."""

import re
import subprocess
from pathlib import Path

import pytest
from test_book import chromium

from netsplit.study.explorer import entry_at, explorer_data, threshold_explorer
from netsplit.records import read_records
from netsplit.search.rule import replay

ROOT = Path(__file__).resolve().parent.parent
RECORDS = {"vgg16": ROOT / "results/vgg16-fashion_mnist-88c16781cdc5.jsonl",
           "resnet18": ROOT / "results/resnet18-fashion_mnist-7c182061e3b9.jsonl"}


def path(result) -> tuple:
    return tuple(result.split), None if result.missing is None else tuple(result.missing)


def shown(entry: dict) -> tuple:
    return tuple(entry["split"]), None if entry["missing"] is None else tuple(entry["missing"])


@pytest.fixture(scope="module", params=list(RECORDS))
def records(request) -> list:
    return read_records(RECORDS[request.param])


@pytest.mark.parametrize("reference", ["block", "original"])
def test_the_data_agree_with_replay_at_every_breakpoint_and_between(records, reference):
    data = explorer_data(records, reference)
    tops = [e["high"] for e in data if e["high"] is not None]
    between = ((a + b) / 2 for a, b in zip(sorted(tops), sorted(tops)[1:]))
    probes = {0.0, *(t + d for t in tops for d in (-1e-9, 0.0, 1e-9)), *between, *(k / 20 for k in range(81))}
    for threshold in sorted(t for t in probes if t >= 0):
        assert shown(entry_at(data, threshold)) == path(replay(records, threshold, reference)), threshold
    assert data[0]["low"] is None and data[-1]["high"] is None
    assert all(a["high"] == b["low"] for a, b in zip(data, data[1:])), "the intervals tile the thresholds"
    assert all(shown(a) != shown(b) for a, b in zip(data, data[1:])), "each breakpoint changes the path"


def test_the_data_give_each_split_its_record_and_each_end_of_the_records_its_next_network():
    records = read_records(RECORDS["vgg16"])
    published = entry_at(explorer_data(records), 0.5)
    final = next(r for r in records if r.split == [4, 4, 2, 6, 8])
    assert published["network"]["params"] == final.params and published["network"]["macs"] == final.macs
    assert published["network"]["validation_accuracy"] == round(100 * final.validation_accuracy, 4)
    assert [b["chosen"] for b in published["blocks"]] == [4, 4, 2, 6, 8]
    ended = entry_at(explorer_data(records), 0.35)
    assert ended["missing"] == [2, 1, 1, 6, 1] and ended["next"] == {"block": 4, "factor": 6}
    assert ended["network"] is None and ended["blocks"][-1]["decided"] is False


def test_from_a_start_split_the_explorer_shows_the_blocks_the_search_visits():
    records = read_records(RECORDS["resnet18"])
    start = (8, 1, 1, 1, 1)
    data = explorer_data(records, start=start)
    for threshold in (0.0, 0.5, 1.0, 3.0):
        assert shown(entry_at(data, threshold)) == path(replay(records, threshold, start=start)), threshold
    assert [b["block"] for b in entry_at(data, 0.5)["blocks"]] == [2, 3, 4, 5]
    page = threshold_explorer(records, start=start).data
    assert '"blocks": [2, 3, 4, 5], "factors"' in page, "the table's rows: block 1 is not one"


def test_the_html_loads_nothing_from_outside_and_its_ids_are_unique_per_call(records):
    pages = [threshold_explorer(records, title="VGG16 <search>").data for _ in range(2)]
    ids = [re.findall(r'\bid="([^"]+)"', page) for page in pages]
    for page, names in zip(pages, ids):
        assert not re.search(r"https?:|(?:src|href)\s*=\s*[\"']?//|url\(|@import", page, re.I)
        assert "<link" not in page and not re.search(r"<script[^>]*\bsrc", page)
        assert len(names) == len(set(names)) >= 6
        for ref in re.findall(r'\b(?:for|list|aria-labelledby|aria-describedby)="([^"]+)"', page):
            assert ref in names, ref
        assert "VGG16 &lt;search&gt;" in page
    assert not set(ids[0]) & set(ids[1])


def page(tmp_path: Path, widget: str, threshold: float) -> str:
    """An HTML file with the widget and a script that moves its slider to ``threshold`` as a reader would."""
    move = ("<script>const s = document.querySelector('input[type=range]');"
            f"s.value = '{threshold}'; s.dispatchEvent(new Event('input', {{bubbles: true}}));</script>")
    file = tmp_path / f"explorer-{threshold}.html"
    file.write_text(f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>explorer</title></head>"
                    f"<body>{widget}{move}</body></html>")
    return file.as_uri()


def browser(tmp_path: Path) -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--window-size=1000,1100"]


@pytest.mark.browser
@pytest.mark.parametrize("model, threshold", [("vgg16", 0.5), ("vgg16", 0.35), ("resnet18", 0.5)])
def test_a_browser_shows_the_split_replay_finds_where_the_slider_is_moved(tmp_path, model, threshold):
    records = read_records(RECORDS[model])
    url = page(tmp_path, threshold_explorer(records, title=f"{model} search", threshold=0.0).data, threshold)
    dom = subprocess.run([*browser(tmp_path), "--dump-dom", url], capture_output=True, text=True).stdout
    split, missing = re.search(r'data-split="([\d,]+)" data-missing="([\d,]*)"', dom).groups()
    expected = replay(records, threshold)
    assert split == ",".join(map(str, expected.split))
    assert missing == ("" if expected.missing is None else ",".join(map(str, expected.missing)))
    text = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)
    assert ("needs to train" in text) == (expected.missing is not None)
    assert f"{threshold:.2f} points</output>" in dom
    assert dom.count("<tr") == 1 + len({r.block for r in records}), "a header and a row per block"


@pytest.mark.browser
def test_the_widget_renders_with_content(tmp_path):
    """A screenshot of the widget at the published threshold; its path is printed (pytest -s shows it)."""
    url = page(tmp_path, threshold_explorer(read_records(RECORDS["vgg16"]), title="vgg16 search").data, 0.5)
    shot = tmp_path / "explorer.png"
    subprocess.run([*browser(tmp_path), f"--screenshot={shot}", url], capture_output=True)
    print(f"\nscreenshot of the explorer: {shot}")
    assert shot.exists() and shot.stat().st_size > 20_000
