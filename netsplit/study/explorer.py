"""A threshold explorer: move the threshold and see the path the search rule takes through the records.

The rule compares each candidate's accuracy drop with the threshold, so its path can change only at the
drops the records hold. :func:`explorer_data` replays the records once per interval between those drops;
:func:`threshold_explorer` embeds the intervals in a self-contained HTML widget (inline script and style,
nothing loaded from a network) that renders in a notebook and in the book built from it.
"""

from __future__ import annotations

import json
import math
import statistics
import uuid
from html import escape
from typing import Iterable, Sequence

from IPython.display import HTML

from netsplit.search.config import check_threshold
from netsplit.records import RunRecord
from netsplit.search.rule import SearchResult, accuracy_drop, replay, searched_blocks, searched_records

STEPS = (0.05, 0.01, 0.005, 0.001, 0.0001)
"""Slider steps, coarsest first: the widget takes the coarsest that reaches every interval."""


def _drops(result: SearchResult) -> set[float]:
    """The drops the rule compared with the threshold on this path (negative ones pass every threshold)."""
    drops = {accuracy_drop(o.reference, mean) for o in result.outcomes for mean, _ in o.candidates.values()}
    drops |= {round(high, 4) for o in result.outcomes for _, high in o.intervals.values()}  # paired decisions
    return {d for d in drops if d >= 0}


def _intervals(records: list[RunRecord], reference: str, seeds: Iterable[int] | None,
               start: Sequence[int] | None, rule: dict | None = None) -> list[tuple[float | None, float | None, SearchResult]]:
    """``(low, high, result)``: replay's result for every threshold in (low, high] (low None: from 0 on,
    high None: unbounded), adding the drops each path meets until no replay meets a new one."""
    points: set[float] = set()
    results: dict[float, SearchResult] = {}
    while True:
        tops = [*sorted(points), max(points, default=0.0) + 1]  # each interval's top holds its path
        for top in tops:
            if top not in results:
                results[top] = replay(records, top, reference, seeds, start, **(rule or {}))
        found = set().union(*(_drops(results[top]) for top in tops))
        if found <= points:
            return [(low, high, results[top]) for low, high, top in zip([None, *tops[:-1]], [*tops[:-1], None], tops)]
        points |= found


def _path_key(result: SearchResult) -> tuple:
    return result.split, result.missing, tuple((o.chosen, o.decided) for o in result.outcomes)


def _network(searched: list[RunRecord], split: tuple[int, ...]) -> dict | None:
    """Parameters, MACs and mean accuracies (%) of a split, from its records (None without one)."""
    found = [r for r in searched if tuple(r.split) == tuple(split)]
    if not found:
        return None
    validation = [r.validation_accuracy for r in found if r.validation_accuracy is not None]
    return {"split": list(split), "params": found[0].params, "macs": found[0].macs, "seeds": len(found),
            "accuracy": round(100 * statistics.fmean(r.accuracy for r in found), 4),
            "validation_accuracy": round(100 * statistics.fmean(validation), 4) if validation else None}


def _next(result: SearchResult) -> dict | None:
    """Which block and factor the missing network splits (block None: it is the baseline the path stands on)."""
    if result.missing is None:
        return None
    changed = [i for i, (a, b) in enumerate(zip(result.split, result.missing)) if a != b]
    return {"block": changed[0] + 1, "factor": result.missing[changed[0]]} if changed else {"block": None, "factor": 1}


def _blocks(result: SearchResult) -> list[dict]:
    """Each block the path reached: its baseline and reference accuracy (%), candidates and choice."""
    return [{"block": o.block, "baseline": round(100 * o.baseline, 4), "reference": round(100 * o.reference, 4),
             "candidates": [{"factor": f, "accuracy": round(100 * mean, 4), "sd": round(100 * sd, 4),
                             "drop": accuracy_drop(o.reference, mean)} for f, (mean, sd) in o.candidates.items()],
             "chosen": o.chosen, "decided": o.decided} for o in result.outcomes]


def _entry(low: float | None, high: float | None, result: SearchResult, searched: list[RunRecord]) -> dict:
    return {"low": low, "high": high, "split": list(result.split),
            "missing": None if result.missing is None else list(result.missing), "next": _next(result),
            "blocks": _blocks(result), "network": None if result.missing else _network(searched, result.split)}


def explorer_data(records: list[RunRecord], reference: str = "block", seeds: Iterable[int] | None = None,
                  start: Sequence[int] | None = None, rule: dict | None = None) -> list[dict]:
    """The search's path for every threshold (from the split ``start``, by the ``rule`` the search decided with:
    replay's ``fair_reference`` and ``decision``, see :func:`~netsplit.search.rule.replay`),
    one entry per interval (low, high] over which it stays the same (the first from 0, the last unbounded:
    None), with the split or the ``missing`` network it needs next."""
    seeds = None if seeds is None else list(seeds)
    searched, entries, keys = searched_records(records, seeds), [], []
    for low, high, result in _intervals(records, reference, seeds, start, rule):
        if keys and keys[-1] == _path_key(result):
            entries[-1]["high"] = high
        else:
            entries.append(_entry(low, high, result, searched))
            keys.append(_path_key(result))
    return entries


def entry_at(data: list[dict], threshold: float) -> dict:
    """The entry of :func:`explorer_data` that holds ``threshold`` (as the widget looks it up)."""
    return next(e for e in data if e["high"] is None or threshold <= e["high"])


def _first(entry: dict, step: float) -> float:
    """The smallest multiple of ``step`` in the entry's interval."""
    return 0.0 if entry["low"] is None else round((math.floor(round(entry["low"] / step, 6)) + 1) * step, 4)


def _step(data: list[dict], maximum: float) -> float:
    """The coarsest of :data:`STEPS` whose multiples reach every interval that starts below ``maximum``."""
    shown = [e for e in data if e["low"] is None or e["low"] < maximum]
    return next(s for s in STEPS if all(e["high"] is None or _first(e, s) <= e["high"] for e in shown))


def _payload(records: list[RunRecord], data: list[dict], reference: str, seeds: Iterable[int] | None,
             step: float, start: Sequence[int] | None) -> dict:
    """What the widget's script reads: the entries, the table's blocks and factors, the unsplit network."""
    searched = searched_records(records, seeds)
    unsplit = (1,) * len(searched[0].split)
    entries = [{**e, "first": _first(e, step)} for e in data]
    return {"entries": entries, "step": step, "digits": max(2, len(f"{step:g}".partition(".")[2])),
            "blocks": searched_blocks(searched, start),
            "factors": sorted({r.factor for r in searched if r.role == "candidate"}),
            "reference": reference,
            "decidedOn": "validation" if any(r.validation_accuracy is not None for r in searched) else "test",
            "unsplit": _network(searched, unsplit)}


def _json(payload: dict) -> str:
    """JSON that cannot end the script element it sits in."""
    return json.dumps(payload).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def threshold_explorer(records: list[RunRecord], reference: str = "block",
                       title: str = "The search path at each threshold", threshold: float = 0.5,
                       seeds: Iterable[int] | None = None, maximum: float | None = None,
                       start: Sequence[int] | None = None, fair_reference: bool = False,
                       decision: str = "mean") -> HTML:
    """A slider over the threshold (0 to ``maximum`` points) showing the rule's path through ``records`` from the
    split ``start``: each block's factor and the split's parameters, MACs and accuracy, or the network it needs next."""
    check_threshold(threshold)
    seeds = None if seeds is None else list(seeds)
    data = explorer_data(records, reference, seeds, start, {"fair_reference": fair_reference, "decision": decision})
    tops = [e["high"] for e in data if e["high"] is not None]
    maximum = maximum if maximum is not None else max(3.0, math.ceil(max(tops, default=0.0) + STEPS[-1]))
    step = _step(data, maximum)
    payload = _payload(records, data, reference, seeds, step, start)
    value = min(maximum, round(round(threshold / step) * step, 4))
    uid = f"nsx-{uuid.uuid4().hex[:12]}"
    fallback = _fallback(entry_at(data, value), value, payload["digits"])
    return HTML(_TEMPLATE.format(uid=uid, title=escape(title), data=_json(payload), value=value, maximum=maximum,
                                 step=step, fallback=escape(fallback), css=_CSS.replace("ROOT", f"#{uid}"),
                                 script=_SCRIPT.replace("ROOT_ID", json.dumps(uid))))


def _fallback(entry: dict, threshold: float, digits: int) -> str:
    """What the widget says where its script cannot run (an untrusted notebook): the path at its first threshold."""
    end = ", then needs a network the records lack" if entry["missing"] else ""
    split = ",".join(map(str, entry["split"]))
    return f"At threshold {threshold:.{digits}f} points the path gives split {split}{end}. Moving it needs JavaScript."


_TEMPLATE = """<section class="nsx tex2jax_ignore mathjax_ignore" id="{uid}" aria-labelledby="{uid}-title">
<style>{css}</style>
<p class="nsx-title" id="{uid}-title">{title}</p>
<div class="nsx-controls">
<label for="{uid}-t">Threshold: largest accuracy drop a split may cost (percentage points)</label>
<div class="nsx-slider"><input type="range" id="{uid}-t" min="0" max="{maximum}" step="{step}" value="{value}"
 list="{uid}-ticks" aria-describedby="{uid}-range"><output id="{uid}-v" for="{uid}-t">{value}</output></div>
<datalist id="{uid}-ticks"></datalist>
</div>
<div class="nsx-result" id="{uid}-result" aria-live="polite"><p>{fallback}</p></div>
<p class="nsx-range" id="{uid}-range"></p>
<div class="nsx-jumps" role="group" aria-label="Thresholds where the path changes"></div>
<div class="nsx-wrap"><table class="nsx-table" id="{uid}-table">
<caption></caption><thead></thead><tbody></tbody></table></div>
<script type="application/json" id="{uid}-data">{data}</script>
<script>{script}</script>
</section>"""

_CSS = """
ROOT { --nsx-line: rgba(127,127,127,.35); --nsx-ok: rgba(40,167,69,.2); --nsx-stop: rgba(220,53,69,.2);
  --nsx-next: rgba(255,170,0,.25); border: 1px solid var(--nsx-line); border-radius: 8px; padding: .8rem 1rem;
  margin: 1rem 0; font-size: .95rem; line-height: 1.45; color: inherit; max-width: 56rem; }
ROOT p { margin: .3rem 0; }
ROOT .nsx-title { font-weight: 600; font-size: 1.05rem; }
ROOT .nsx-controls label { display: block; margin-top: .3rem; }
ROOT .nsx-slider { display: flex; align-items: center; gap: .8rem; }
ROOT input[type=range] { flex: 1; min-width: 10rem; accent-color: #3b6fb6; }
ROOT input[type=range]:focus-visible, ROOT button:focus-visible { outline: 3px solid #3b6fb6; outline-offset: 2px; }
ROOT output { font-variant-numeric: tabular-nums; font-weight: 600; min-width: 6.5rem; }
ROOT .nsx-result { margin: .6rem 0 .2rem; padding: .5rem .8rem; border-radius: 6px; background: rgba(127,127,127,.08); }
ROOT .nsx-result.nsx-missing { background: var(--nsx-next); }
ROOT .nsx-split { font-size: 1.15rem; font-weight: 600; font-variant-numeric: tabular-nums; }
ROOT .nsx-range { font-size: .85rem; opacity: .8; }
ROOT .nsx-jumps { display: flex; flex-wrap: wrap; gap: .3rem; margin: .4rem 0 .6rem; }
ROOT .nsx-jumps button { font: inherit; font-size: .8rem; color: inherit; background: transparent; cursor: pointer;
  border: 1px solid var(--nsx-line); border-radius: 1rem; padding: .1rem .6rem; font-variant-numeric: tabular-nums; }
ROOT .nsx-jumps button[aria-pressed=true] { background: #3b6fb6; border-color: #3b6fb6; color: #fff; }
ROOT .nsx-wrap { overflow-x: auto; }
ROOT table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: 0; }
ROOT caption { caption-side: bottom; text-align: left; font-size: .8rem; opacity: .8; padding-top: .4rem; }
ROOT th, ROOT td { border: 1px solid var(--nsx-line); padding: .25rem .5rem; text-align: right; vertical-align: top; }
ROOT thead th { text-align: center; }
ROOT td small { display: block; font-size: .78rem; opacity: .85; white-space: nowrap; }
ROOT td.nsx-ok { background: var(--nsx-ok); }
ROOT td.nsx-stop { background: var(--nsx-stop); }
ROOT td.nsx-past, ROOT td.nsx-none, ROOT tr.nsx-unreached td { opacity: .55; }
ROOT td.nsx-next { background: var(--nsx-next); outline: 2px dashed #c77c00; outline-offset: -3px; text-align: center; }
ROOT td.nsx-chosen { font-weight: 600; text-align: center; }
"""

_SCRIPT = """(function () {
  const id = ROOT_ID, root = document.getElementById(id);
  const d = JSON.parse(document.getElementById(id + "-data").textContent);
  const slider = document.getElementById(id + "-t"), out = document.getElementById(id + "-v");
  const result = document.getElementById(id + "-result"), range = document.getElementById(id + "-range");
  const table = document.getElementById(id + "-table"), jumps = root.querySelector(".nsx-jumps");
  const num = (x, n) => x.toLocaleString("en-US", {minimumFractionDigits: n, maximumFractionDigits: n});
  const pts = x => x.toFixed(4).replace(/0{1,2}$/, "").replace("-", "−");
  const split = s => s.join(",");
  const el = (tag, text, cls) => { const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const at = t => d.entries.find(e => e.high === null || t <= e.high);
  const span = e => e.low === null ? (e.high === null ? "every threshold" : "thresholds up to " + pts(e.high))
    : e.high === null ? "thresholds above " + pts(e.low) : "thresholds above " + pts(e.low) + " up to " + pts(e.high);
  const measure = d.decidedOn === "validation" ? "validation" : "test";
  function head() {
    const row = el("tr");
    ["Block", "Baseline " + measure + " acc. %"].concat(d.factors.map(f => "Factor " + f), ["Factor chosen"])
      .forEach(h => { const th = el("th", h); th.scope = "col"; row.appendChild(th); });
    table.tHead.appendChild(row);
    table.caption.textContent = "Each cell: the candidate's " + measure + " accuracy (%) and its drop in points " +
      "from " + (d.reference === "block" ? "the block's baseline" : "the unsplit network") + ". ✓ below the " +
      "threshold (accepted), ✗ the first at or above it (the block stops), – past that stop (not considered); " +
      "blank: no record; dashed: the network the search needs next.";
  }
  function stats(n) {
    const u = d.unsplit, share = (a, b) => u ? " (" + num(100 * a / b, 1) + " % of unsplit)" : "";
    let text = num(n.params, 0) + " parameters" + share(n.params, u && u.params) + " · " +
      num(n.macs / 1e6, 2) + " M MACs" + share(n.macs, u && u.macs) + " · test accuracy " + num(n.accuracy, 2) + " %";
    if (n.validation_accuracy !== null) text += " · validation accuracy " + num(n.validation_accuracy, 2) + " %";
    return text + " (as the search fine-tuned it" + (n.seeds > 1 ? ", mean of " + n.seeds + " seeds)" : ")");
  }
  function summary(e) {
    result.replaceChildren();
    result.classList.toggle("nsx-missing", e.missing !== null);
    const line = el("p", undefined, "nsx-split");
    line.dataset.split = split(e.split); line.dataset.missing = e.missing ? split(e.missing) : "";
    if (e.missing === null) {
      line.textContent = "Split " + split(e.split);
      result.append(line, el("p", e.network ? stats(e.network) : "No record of this split."));
    } else {
      line.textContent = "The records end here: the search needs to train " + split(e.missing) + " next";
      const what = e.next.block === null ? "the baseline the next block starts from"
        : "block " + e.next.block + " split by " + e.next.factor;
      result.append(line, el("p", "That network is " + what + "; the path so far is " + split(e.split) +
        ". Run the search at this threshold to train it."));
    }
    range.textContent = "The same path for " + span(e) + " points.";
  }
  function cell(c, state) {
    const td = el("td", num(c.accuracy, 2) + (c.sd ? " ± " + num(c.sd, 2) : ""), "nsx-" + state);
    td.appendChild(el("small", "drop " + pts(c.drop) + " " + {ok: "✓", stop: "✗", past: "–"}[state]));
    return td;
  }
  function row(b, e, t) {
    const tr = el("tr"), o = e.blocks.find(x => x.block === b), th = el("th", String(b));
    th.scope = "row"; tr.appendChild(th);
    if (!o) { tr.className = "nsx-unreached"; tr.appendChild(el("td", "not reached"));
      d.factors.forEach(() => tr.appendChild(el("td", "", "nsx-none"))); tr.appendChild(el("td", "–", "nsx-chosen"));
      return tr; }
    tr.appendChild(el("td", num(o.baseline, 2)));
    let stopped = false;
    d.factors.forEach(f => {
      const c = o.candidates.find(x => x.factor === f);
      if (!c) { const next = !o.decided && e.next && e.next.block === b && e.next.factor === f;
        tr.appendChild(next ? el("td", "needs training", "nsx-next") : el("td", "", "nsx-none")); return; }
      const state = stopped ? "past" : c.drop >= t ? "stop" : "ok";
      stopped = stopped || state === "stop";
      tr.appendChild(cell(c, state));
    });
    tr.appendChild(el("td", o.decided ? String(o.chosen) + (o.chosen === 1 ? " (unsplit)" : "") : "?", "nsx-chosen"));
    return tr;
  }
  function render() {
    const t = parseFloat(slider.value), e = at(t);
    out.textContent = num(t, d.digits) + " points";
    slider.setAttribute("aria-valuetext", num(t, d.digits) + " points");
    summary(e);
    const body = table.tBodies[0]; body.replaceChildren();
    d.blocks.forEach(b => body.appendChild(row(b, e, t)));
    jumps.querySelectorAll("button").forEach(btn => btn.setAttribute("aria-pressed", String(btn.entry === e)));
  }
  const max = parseFloat(slider.max), ticks = document.getElementById(id + "-ticks");
  d.entries.filter(e => e.first <= max).forEach(e => {
    const from = e.low !== null ? "> " + pts(e.low) : e.high !== null ? "≤ " + pts(e.high) : "any";
    const btn = el("button", from + ": " +
      (e.missing ? "records end" : split(e.split)));
    btn.type = "button"; btn.entry = e;
    btn.addEventListener("click", () => { slider.value = e.first; render(); });
    jumps.appendChild(btn);
    const tick = el("option"); tick.value = e.first; ticks.appendChild(tick);
  });
  head();
  slider.addEventListener("input", render);
  render();
})();"""
