"""The split search: its rule against a scripted oracle, records, resume, bad input."""

import json
import math
import re
from dataclasses import replace
from types import SimpleNamespace

import pytest

from netsplit.search.config import SearchConfig
from netsplit.errors import InputError
from netsplit.search.executors import InProcess
from netsplit.records import RecordsError, RecordStore, read_records
from netsplit.search.rule import Job, SplitSearch, job_for, replay
from oracle import Oracle


def search(tmp_path, penalties, executor=None, name="r.jsonl", offsets=None, **options):
    config = SearchConfig(**{"blocks": (1, 2), **options})
    oracle = Oracle(config, penalties, seed_offsets=offsets or {}, validation=config.validation_size is not None)
    store = RecordStore(tmp_path / name, config.hash)
    result = SplitSearch(config, oracle, store, executor, log=lambda line: None).run()
    return result, oracle


def factors_tried(oracle, block):
    return [job.factor for job in oracle.calls if job.block == block and job.role == "candidate"]


def test_first_candidate_fails(tmp_path):
    result, oracle = search(tmp_path, {1: {2: 0.6}})
    assert result.split[0] == 1 and factors_tried(oracle, 1) == [2]


def test_all_candidates_pass(tmp_path):
    result, oracle = search(tmp_path, {1: {2: 0.1, 4: 0.2, 6: 0.3, 8: 0.4}, 2: {2: 0.1, 4: 0.6}})
    assert result.split[:2] == (8, 2)
    assert factors_tried(oracle, 1) == [2, 4, 6, 8] and factors_tried(oracle, 2) == [2, 4]


def test_pass_fail_pass_stops_at_the_first_failure(tmp_path):
    result, oracle = search(tmp_path, {1: {2: 0.1, 4: 0.9, 6: 0.1, 8: 0.1}})
    assert result.split[0] == 2 and factors_tried(oracle, 1) == [2, 4]


def test_drop_equal_to_threshold_stops(tmp_path):
    result, _ = search(tmp_path, {1: {2: 0.5}}, blocks=(1,))
    assert result.split[0] == 1


def test_accuracy_improving_with_splitting_is_accepted(tmp_path):
    result, _ = search(tmp_path, {1: {2: -0.3, 4: -0.5, 6: -0.2, 8: 0.2}})
    assert result.split[0] == 8
    assert result.outcomes[0].candidates[2][0] > result.outcomes[0].baseline


def test_earlier_blocks_stay_split_while_later_ones_are_searched(tmp_path):
    _, oracle = search(tmp_path, {1: {2: 0.1, 4: 0.6}, 2: {2: 0.1, 4: 0.1, 6: 0.7}})
    block2 = [job.split for job in oracle.calls if job.block == 2]
    assert all(split[0] == 2 for split in block2)
    assert [job.parent for job in oracle.calls if job.role == "candidate" and job.block == 2][0] == (2, 1, 1, 1, 1)


def test_reference_original_stops_losses_adding_up(tmp_path):
    penalties = {1: {2: 0.3, 4: 0.6}, 2: {2: 0.3, 4: 0.6}}
    by_block, _ = search(tmp_path, penalties, name="a.jsonl", reference="block")
    by_original, _ = search(tmp_path, penalties, name="b.jsonl", reference="original")
    assert by_block.split[:2] == (2, 2)  # each block loses 0.3 against its own baseline
    assert by_original.split[:2] == (2, 1)  # 0.3 + 0.3 against the unsplit network reaches 0.5


def test_several_seeds_accept_on_the_mean(tmp_path):
    offsets = {0: 0.004, 1: -0.004, 2: 0.0}
    result, oracle = search(tmp_path, {1: {2: 0.4, 4: 0.45}}, seeds=3, blocks=(1,), offsets=offsets)
    assert result.split[0] == 8
    assert len([j for j in oracle.calls if j.factor == 2]) == 3
    mean, spread = result.outcomes[0].candidates[2]
    assert mean == pytest.approx(0.896) and spread == pytest.approx(0.004)


class EagerExecutor(InProcess):
    """Evaluates all candidates of a block up front, as a parallel executor does."""

    parallel = True


def test_parallel_rule_gives_the_same_split(tmp_path):
    penalties = {1: {2: 0.1, 4: 0.9, 6: 0.1, 8: 0.1}, 2: {2: 0.1, 4: 0.2, 6: 0.6}}
    sequential, _ = search(tmp_path, penalties, name="s.jsonl")
    parallel, oracle = search(tmp_path, penalties, EagerExecutor(), name="p.jsonl")
    assert parallel.split == sequential.split == (2, 4, 1, 1, 1)
    assert factors_tried(oracle, 1) == [2, 4, 6, 8]  # all trained, only the passing prefix accepted


def test_resume_trains_nothing_twice_and_replay_agrees(tmp_path):
    penalties = {1: {2: 0.1, 4: 0.2, 6: 0.9}, 2: {2: 0.7}}
    first, oracle = search(tmp_path, penalties)
    again, second_oracle = search(tmp_path, penalties)
    assert again.split == first.split == (4, 1, 1, 1, 1)
    assert oracle.calls and not second_oracle.calls
    records = read_records(tmp_path / "r.jsonl")
    assert replay(records, threshold=0.5).split == first.split
    assert not {"threshold", "decision"} & set(json.loads(records[0].to_json())), "records hold no decision"


def test_records_of_other_training_settings_are_refused(tmp_path):
    search(tmp_path, {})
    with pytest.raises(RecordsError, match="another configuration"):
        search(tmp_path, {}, baseline_epochs=3)


THRESHOLD_PENALTIES = {1: {2: 0.3, 4: 0.6, 6: 1.5, 8: 2.5}, 2: {2: 0.2, 4: 0.4, 6: 0.8, 8: 3.0}}


def test_a_new_threshold_trains_only_the_networks_its_path_has_not_seen(tmp_path):
    strict, first = search(tmp_path, THRESHOLD_PENALTIES, threshold=0.5)
    loose, second = search(tmp_path, THRESHOLD_PENALTIES, threshold=2.0)
    fresh, alone = search(tmp_path, THRESHOLD_PENALTIES, name="fresh.jsonl", threshold=2.0)
    assert strict.split[:2] == (2, 4) and loose.split[:2] == fresh.split[:2] == (6, 6)
    assert [o.candidates for o in loose.outcomes] == [o.candidates for o in fresh.outcomes]
    already = {(job.split, job.seed) for job in first.calls}
    assert second.calls and not [job for job in second.calls if (job.split, job.seed) in already]
    assert {job.split for job in alone.calls} <= {job.split for job in first.calls + second.calls}
    assert len(second.calls) < len(alone.calls), "the unsplit baseline and shared candidates were reused"
    records = read_records(tmp_path / "r.jsonl")
    assert replay(records, threshold=0.5).split == strict.split
    assert replay(records, threshold=2.0).split == loose.split
    assert {tuple(r.split) for r in loose.records} <= {tuple(r.split) for r in records}
    assert len(loose.records) == len(alone.calls), "the result lists the networks of its own path"


def test_a_replay_past_its_records_names_the_network_the_search_trains_next(tmp_path, capsys):
    """At 2.0, the 0.5 search's records accept 2 and 4 in block 1 but lack 6: the report must not call 4 final."""
    from netsplit.cli import main

    search(tmp_path, THRESHOLD_PENALTIES, threshold=0.5)
    short = replay(read_records(tmp_path / "r.jsonl"), threshold=2.0, blocks=(1, 2))
    assert short.missing == (6, 1, 1, 1, 1) and short.split == (1, 1, 1, 1, 1)
    assert [o.decided for o in short.outcomes] == [False]
    _, oracle = search(tmp_path, THRESHOLD_PENALTIES, threshold=2.0)
    assert oracle.calls[0].split == short.missing, "the search trains next what the report says is missing"
    assert replay(read_records(tmp_path / "r.jsonl"), threshold=2.0, blocks=(1, 2)).missing is None
    assert replay(read_records(tmp_path / "r.jsonl"), threshold=2.0).missing[2] == 2, "block 3 never searched"
    assert main(["report", str(tmp_path / "r.jsonl"), "--threshold", "4.0", "--blocks", "1,2"]) == 0
    printed = capsys.readouterr().out
    assert "needs split 8,2,1,1,1 next" in printed and "final split" not in printed


def test_a_torn_last_line_is_reported_and_dropped(tmp_path, capsys):
    search(tmp_path, {1: {2: 0.9}}, blocks=(1,))
    path = tmp_path / "r.jsonl"
    complete = path.read_text()
    path.write_text(complete + complete.splitlines()[0][:40])
    with pytest.warns(UserWarning, match="torn last line"):
        assert len(read_records(path)) == len(complete.splitlines())
    search(tmp_path, {1: {2: 0.9}}, blocks=(1,))
    assert "dropping a torn last line" in capsys.readouterr().err
    assert path.read_text() == complete


def test_a_garbled_line_inside_the_file_is_an_error(tmp_path):
    search(tmp_path, {1: {2: 0.9}}, blocks=(1,))
    path = tmp_path / "r.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{garbled", *lines[1:]]) + "\n")
    with pytest.raises(RecordsError, match="r.jsonl:2 is not a run record"):
        read_records(path)
    path.write_text(json.dumps({"accuracy": 1}) + "\n" + "\n".join(lines) + "\n")
    with pytest.raises(RecordsError, match=":1 is not a run record"):
        read_records(path)


@pytest.mark.parametrize("options,message", [
    ({"threshold": -0.1}, "threshold must be a finite, non-negative number"),
    ({"threshold": "half"}, "threshold must be a finite, non-negative number"),
    ({"threshold": math.nan}, "threshold must be a finite, non-negative number"),
    ({"candidate_factors": ()}, "non-empty list of integers >= 2"),
    ({"candidate_factors": (4, 2)}, "strictly ascending"),
    ({"candidate_factors": (2, 2)}, "strictly ascending"),
    ({"candidate_factors": (1, 2)}, "integers >= 2"),
    ({"candidate_factors": (2, 2.5)}, "integers >= 2"),
    ({"blocks": (0, 1)}, "blocks must be numbers 1..5"),
    ({"blocks": (6,)}, "blocks must be numbers 1..5"),
    ({"blocks": (3, 1)}, "ascending order"),
    ({"reference": "paper"}, "reference must be one of"),
    ({"seeds": 0}, "seeds must be a positive integer"),
    ({"model": "alexnet"}, "valid models"),
])
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        SearchConfig(**options)


def test_report_prints_the_table_from_records(tmp_path, capsys):
    from netsplit.cli import main

    result, _ = search(tmp_path, {1: {2: 0.1, 4: 0.2, 6: 0.9}, 2: {2: 0.7}})
    assert main(["report", str(tmp_path / "r.jsonl"), "--json", "--blocks", "1,2"]) == 0
    at_default = json.loads(capsys.readouterr().out)
    assert main(["report", str(tmp_path / "r.jsonl"), "--threshold", "0.5", "--json", "--blocks", "1,2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert at_default == report, "the records serve any threshold; report decides at the paper's 0.5 unless told"
    assert tuple(report["split"]) == result.split
    assert [row["chosen"] for row in report["blocks"]] == [4, 1]
    assert report["blocks"][0]["K=6"] == 89.1  # 90 % less the 0.9-point penalty
    assert main(["report", str(tmp_path / "r.jsonl"), "--threshold", "0.5", "--blocks", "1,2"]) == 0
    table = capsys.readouterr().out
    assert "baseline" in table and "K=4" in table and "final split: 4,1,1,1,1" in table


def test_a_last_record_without_its_newline_gets_one_before_the_next(tmp_path):
    result, _ = search(tmp_path, {1: {2: 0.9}}, blocks=(1,))
    path = tmp_path / "r.jsonl"
    first = read_records(path)
    path.write_text(path.read_text().rstrip("\n"))  # intact, but no final newline
    store = RecordStore(path, first[0].config_hash)
    store.append(first[0])
    assert len(path.read_text().splitlines()) == len(first) + 1
    assert read_records(path) == first + [first[0]]


def test_a_full_sweep_trains_every_factor_and_still_stops_at_the_first_failure(tmp_path):
    penalties = {1: {2: 0.1, 4: 0.9, 6: 0.1, 8: 0.1}, 2: {2: 0.7}}
    result, oracle = search(tmp_path, penalties, sweep=True)
    assert result.split[:2] == (2, 1)
    assert factors_tried(oracle, 1) == factors_tried(oracle, 2) == [2, 4, 6, 8]
    assert list(result.outcomes[0].candidates) == [2, 4, 6, 8], "the table shows the whole sweep"
    assert SearchConfig(sweep=True).hash == SearchConfig().hash, "a sweep trains the same networks"


def test_decisions_are_made_on_held_out_images_when_there_are_some(tmp_path):
    penalties = {1: {2: 0.1, 4: 0.9}, 2: {2: 0.7}}
    on_validation, _ = search(tmp_path, penalties, name="v.jsonl", validation_size=5000)
    on_test, _ = search(tmp_path, penalties, name="t.jsonl")
    assert on_validation.split[:2] == on_test.split[:2] == (2, 1)
    records = read_records(tmp_path / "v.jsonl")
    assert {r.accuracy for r in records} == {0.9}, "the test accuracy never moved the decisions"
    assert replay(records, threshold=0.5).split == on_validation.split
    assert on_validation.decided_on == "validation" and on_test.decided_on == "test"
    assert SearchConfig(validation_size=5000).hash != SearchConfig().hash


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_the_committed_records_are_found_under_todays_keys(profile):
    from helpers import ROOT, profile_search
    from netsplit.study.chapters import FinalConfig

    for model in ("vgg16", "resnet18"):
        config, options = profile_search(profile, model)
        assert config.default_records(ROOT / "results").exists(), model
        final = FinalConfig(config, epochs=options["final_epochs"], seeds=options["final_seeds"])
        assert final.records_path(ROOT / "results").exists(), model


def test_the_ray_executor_names_the_extra_it_needs(monkeypatch):
    import sys

    from netsplit.search.executors import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'netsplit\[ray\]'"):
        make_executor("ray")


def test_candidates_fine_tune_at_their_own_rate_without_warm_up(tmp_path, monkeypatch):
    import netsplit.search.evaluator as evaluator

    seen = []

    def train(build, data, config, seed, store=None, initialise=None, label="", **fields):
        model = build()
        if initialise is not None:
            initialise(model)
        seen.append((fields["role"], config.learning_rate, config.warmup_epochs))
        return model, SimpleNamespace(accuracy=0.5, loss=1.0)

    monkeypatch.setattr(evaluator, "train_network", train)
    config = SearchConfig(dataset="synthetic", width_multiplier=0.125, train_size=64, test_size=32,
                          learning_rate=0.05, finetune_learning_rate=0.01)
    evaluate = evaluator.TrainingEvaluator(config, tmp_path / "weights", verbose=False)
    evaluate(job_for(config, (1, 1, 1, 1, 1), 0))
    evaluate(job_for(config, (2, 1, 1, 1, 1), 0))
    assert seen == [("baseline", 0.05, 1.0), ("candidate", 0.01, 0.0)]
    parent = evaluate.weights_path((1, 1, 1, 1, 1), 0)
    before = parent.read_bytes()
    evaluate(Job((1, 1, 1, 1, 1), 0, "reference", 1, 1, 2, parent=(1, 1, 1, 1, 1)))
    assert seen[-1] == ("reference", 0.01, 0.0), "a fair reference is fine-tuned as the candidates are"
    assert parent.read_bytes() == before, "and its weights never replace those the candidates inherit"
    assert SearchConfig(finetune_learning_rate=0.01).hash != SearchConfig().hash, "a new key for other networks"
    with pytest.raises(ValueError, match="finetune_learning_rate must be a positive number"):
        SearchConfig(finetune_learning_rate=0)


def test_the_progress_line_shows_the_drop_the_decision_uses():
    from netsplit.search.rule import Job, _progress_line

    config = SearchConfig(blocks=(1,))
    record = Oracle(config, {})(Job((2, 1, 1, 1, 1), 0, "candidate", 1, 2, 1))
    record.accuracy, record.validation_accuracy = 0.90, 0.93
    line = _progress_line(record, 0.935, 0.5, 1, 4, 1.0)
    assert "validation accuracy 93.00% (test 90.00%)" in line and "drop +0.50 pt -> stop" in line
    record.validation_accuracy = None
    assert "accuracy 90.00%, drop +3.50 pt -> stop" in _progress_line(record, 0.935, 0.5, 1, 4, 1.0)
    other = Oracle(config, {})(Job((2, 1, 1, 1, 1), 1, "candidate", 1, 2, 1))
    other.accuracy, other.validation_accuracy = 0.90, None
    record.accuracy = 0.94
    line = _progress_line(record, 0.935, 0.5, 2, 4, 1.0, [record, other])
    assert "drop -0.50 pt, mean over 2 seeds +1.50 pt -> stop" in line, "the rule decides on the mean"


def test_a_factor_that_saves_nothing_is_skipped_not_trained(tmp_path):
    result, oracle = search(tmp_path, {2: {2: 0.1, 4: 0.6}}, model="resnet18", blocks=(1, 2))
    assert factors_tried(oracle, 1) == [], "ResNet18's stem is one convolution: splitting it saves nothing"
    assert result.outcomes[0].skipped == (2, 4, 6, 8) and result.outcomes[0].chosen == 1
    assert result.split[:2] == (1, 2) and factors_tried(oracle, 2) == [2, 4]
    replayed = replay(read_records(tmp_path / "r.jsonl"), 0.5, blocks=(1, 2))
    assert replayed.split == result.split and replayed.missing is None
    assert replayed.outcomes[0].skipped == (2, 4), "replay knows the factors its records hold"
    from netsplit.search.rule import outcome_rows

    assert outcome_rows(replayed)[0]["K=2"] == "no saving"


def test_a_search_from_a_start_split_keeps_it_and_decides_the_blocks_it_visits(tmp_path):
    result, oracle = search(tmp_path, {2: {2: 0.1, 4: 0.6}, 3: {2: 0.7}}, blocks=(2, 3), start=(4, 1, 1, 1, 1))
    assert [job.split for job in oracle.calls][0] == (4, 1, 1, 1, 1), "the start is the first baseline"
    assert factors_tried(oracle, 1) == [] and factors_tried(oracle, 2) == [2, 4] and factors_tried(oracle, 3) == [2]
    assert result.split == (4, 2, 1, 1, 1) and all(job.split[0] == 4 for job in oracle.calls)
    records = read_records(tmp_path / "r.jsonl")
    replayed = replay(records, 0.5, start=(4, 1, 1, 1, 1), blocks=(2, 3))
    assert replayed.split == result.split and [o.block for o in replayed.outcomes] == [2, 3]
    assert replay(records, 0.5).missing == (1, 1, 1, 1, 1), "from the unsplit network the records lack the path"
    from netsplit.study.chapters import training_order

    for shown in (result, replayed):  # one path, whoever walks it: the live search and its replay
        assert [step.base for step in shown.path] == [(4, 1, 1, 1, 1), (4, 2, 1, 1, 1)]
        order = training_order(shown)
        assert list(order["split"]) == ["4,1,1,1,1", "4,2,1,1,1", "4,4,1,1,1", "4,2,2,1,1"], "the start's networks listed"
        assert list(order["decision"]) == ["reference", "accept, kept", "stop", "stop"]


@pytest.mark.parametrize("options, message", [
    ({"start": (2, 1, 1)}, "start must be a split of vgg16: 5 positive integers"),
    ({"start": (2, 1, 1, 1, 0)}, "start must be a split of vgg16"),
    ({"start": (1, 1, 2, 1, 1), "blocks": (2, 4)}, "start splits block 3, but the search visits blocks [2, 4]"),
    ({"start": (1, 1, 1, 8, 1), "blocks": (5,), "candidate_factors": (2,), "width_multiplier": 0.0078125},
     "block 4 of vgg16 (start [1, 1, 1, 8, 1]): split factor 8 is larger than the narrowest layer"),
])
def test_a_start_split_that_cannot_be_searched_from_is_refused(options, message):
    from netsplit.errors import InputError

    with pytest.raises(InputError, match=re.escape(message)):
        SearchConfig(**options)


def test_the_published_resnet18_search_reads_its_recorded_path_from_block_2():
    from helpers import ROOT
    from netsplit.study.reproduce import chapter_parameters

    parameters = chapter_parameters("resnet18")
    records = read_records(SearchConfig.from_options(parameters, others=True).default_records(ROOT / "results"))
    result = replay(records, 0.5, start=parameters["start"])
    assert result.missing is None and result.split[0] == 8 and [o.block for o in result.outcomes] == [2, 3, 4, 5]
    from netsplit.study.chapters import training_order

    order = training_order(result)
    assert order["split"].iloc[0] == "8,1,1,1,1" and set(order["block"]) == {2, 3, 4, 5}, "the chapter's table has rows"
    assert replay(records, 0.5).missing == (1, 2, 1, 1, 1), "from the unsplit network, block 2 was never searched"


def test_saving_nothing_means_no_fewer_parameters_and_no_fewer_macs():
    from netsplit.complexity import network_costs
    from netsplit.search.config import changes_nothing

    assert changes_nothing((100, 100), (101, 100)) and not changes_nothing((100, 100), (101, 99))
    unsplit = network_costs("resnet18", (1, 1, 1, 1, 1), 0.125)
    assert changes_nothing(unsplit, network_costs("resnet18", (8, 1, 1, 1, 1), 0.125))
    assert not changes_nothing(unsplit, network_costs("resnet18", (1, 8, 1, 1, 1), 0.125))


def test_a_search_that_only_reads_its_records_trains_nothing_and_names_what_they_lack(tmp_path):
    from netsplit.search.runner import run_search

    strict, _ = search(tmp_path, THRESHOLD_PENALTIES, threshold=0.5)
    read = run_search(SearchConfig(blocks=(1, 2), threshold=0.5), tmp_path / "r.jsonl", train=False)
    assert read.split == strict.split and read.records == strict.records and read.missing is None
    lacking = run_search(SearchConfig(blocks=(1, 2), threshold=2.0), tmp_path / "r.jsonl", train=False)
    assert lacking.missing == (6, 1, 1, 1, 1) and lacking.split == (1, 1, 1, 1, 1)
    [block] = lacking.outcomes
    assert not block.decided and set(block.candidates) == {2, 4}, "block 1 as far as its records go, undecided"
    assert not (tmp_path / "r.jsonl.lock").exists(), "reading takes no lock"


def test_a_search_cut_short_is_never_reported_final(tmp_path, capsys):
    from helpers import ROOT
    from netsplit.cli import main

    lines = (ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl").read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:5]))  # the search had decided blocks 1 to 3 when it stopped
    result = replay(read_records(cut), 0.5)
    assert result.missing == (1, 2, 1, 2, 1) and [o.block for o in result.outcomes] == [1, 2, 3, 4]
    assert replay(read_records(cut), 0.5, blocks=(1, 2, 3)).missing is None, "a search of blocks 1-3 ended there"
    assert main(["report", str(cut), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing"] == [1, 2, 1, 2, 1]
    accepted = tmp_path / "accepted.jsonl"
    accepted.write_text("".join(lines[:3]))  # block 2's factor 2 accepted, factor 4 not trained yet
    assert replay(read_records(accepted), 0.5, factors=(2, 4)).missing == (1, 4, 1, 1, 1)
    baseline = tmp_path / "baseline.jsonl"
    baseline.write_text(lines[0])
    with pytest.raises(InputError, match="no candidate yet"):
        replay(read_records(baseline), 0.5)
    assert replay(read_records(baseline), 0.5, factors=(2, 4)).missing == (2, 1, 1, 1, 1)


def test_a_report_refuses_mixed_configurations_and_accuracies_that_are_not_fractions(tmp_path):
    from helpers import ROOT
    from netsplit.records import RecordsError

    lines = (ROOT / "results/vgg16-fashion_mnist-f5c3d6bd4e5a.jsonl").read_text().splitlines(keepends=True)
    other = json.loads(lines[1])
    other["config_hash"] = "0123456789ab"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(lines) + json.dumps(other) + "\n")
    with pytest.raises(InputError, match="the records mix 2 search configurations"):
        replay(read_records(mixed), 0.5)
    edited = json.loads(lines[2])
    edited["accuracy"] = 73.2
    percent = tmp_path / "percent.jsonl"
    percent.write_text(json.dumps(edited) + "\n" + "".join(lines[3:]))
    with pytest.raises(RecordsError, match=r"accuracy must be a fraction from 0 to 1, got 73.2"):
        read_records(percent)


def test_a_baseline_at_chance_is_a_failed_run_not_a_reference(tmp_path, monkeypatch):
    import netsplit.search.evaluator as evaluator
    from netsplit.errors import TrainingFailed

    monkeypatch.setattr(evaluator, "train_network", lambda build, *a, **k: (build(), SimpleNamespace(accuracy=0.1,
                                                                                                       loss=8.3e5)))
    config = SearchConfig(dataset="synthetic", width_multiplier=0.125, train_size=64, test_size=32, learning_rate=1e6)
    evaluate = evaluator.TrainingEvaluator(config, tmp_path / "weights", verbose=False)
    with pytest.raises(TrainingFailed, match=r"diverged: test loss 8.3e\+05 against 2.30 for a guess, accuracy "
                                             r"10.0% against chance 10.0% on 10 classes \(learning rate 1e\+06\)"):
        evaluate(job_for(config, (1, 1, 1, 1, 1), 0))
    assert not (tmp_path / "weights.weights").exists(), "a failed run leaves no weights to inherit from"


def test_a_fair_reference_cancels_the_fine_tuning_bonus_that_the_papers_reading_credits_to_the_split(tmp_path):
    from netsplit.study.chapters import training_order

    penalties = {1: {2: 0.6, 4: 0.9}}  # splitting block 1 costs 0.6 points at factor 2; fine-tuning gives 0.4 back
    config = SearchConfig(blocks=(1,), candidate_factors=(2, 4))
    paper = SplitSearch(config, Oracle(config, penalties, bonus=0.4), RecordStore(tmp_path / "p.jsonl", config.hash),
                        log=lambda line: None).run()
    assert paper.split[0] == 2, "judged against the baseline without its epochs, a 0.6-point loss looks like 0.2"
    fair_config = SearchConfig(blocks=(1,), candidate_factors=(2, 4), fair_reference=True)
    assert fair_config.hash == config.hash, "the same networks: the option only changes what a drop is judged against"
    oracle = Oracle(fair_config, penalties, bonus=0.4)
    fair = SplitSearch(fair_config, oracle, RecordStore(tmp_path / "f.jsonl", config.hash), log=lambda line: None).run()
    assert fair.split[0] == 1 and fair.outcomes[0].bonus == pytest.approx(0.4), "the bonus measured, and cancelled"
    reference = [job for job in oracle.calls if job.role == "reference"]
    assert [(job.split, job.parent, job.epochs) for job in reference] == [((1,) * 5, (1,) * 5, config.finetune_epochs)]
    records = read_records(tmp_path / "f.jsonl")
    assert replay(records, 0.5, blocks=(1,), fair_reference=True).split == fair.split
    assert replay(records, 0.5, blocks=(1,)).split == paper.split, "the paper's reading from the same records"
    order = training_order(fair)
    assert list(order[order["decision"] == "fine-tuned reference"]["block"]) == [1]
    from netsplit.search.rule import outcome_rows

    assert outcome_rows(fair)[0]["bonus"] == pytest.approx(0.4) and "bonus" not in outcome_rows(paper)[0]
    with pytest.raises(InputError, match="with inherit off the candidates train from scratch"):
        SearchConfig(fair_reference=True, inherit=False)


def test_paired_decisions_accept_below_the_threshold_stop_above_it_and_keep_the_smaller_factor_within_noise(tmp_path, capsys):
    from netsplit.search.rule import paired_drop

    penalties = {1: {2: 0.1, 4: 0.45, 6: 2.0}}
    options = dict(blocks=(1,), candidate_factors=(2, 4, 6), validation_size=2000)
    mean = SplitSearch(SearchConfig(**options), Oracle(SearchConfig(**options), penalties, validation=True, images=2000),
                       RecordStore(tmp_path / "m.jsonl", SearchConfig(**options).hash), log=lambda line: None).run()
    assert mean.split[0] == 4, "on the means, 0.45 points is below 0.5"
    config = SearchConfig(**options, decision="paired")
    oracle = Oracle(config, penalties, validation=True, images=2000)
    paired = SplitSearch(config, oracle, RecordStore(tmp_path / "p.jsonl", config.hash), log=lambda line: None).run()
    outcome = paired.outcomes[0]
    assert paired.split[0] == 2 and outcome.within_noise == (4,), "0.45 points on 2,000 images: the interval holds 0.5"
    low, high = outcome.intervals[2]
    assert low <= 0.1 <= high < 0.5, "2 accepted: its whole interval lies below the threshold"
    assert [job.factor for job in oracle.calls if job.role == "candidate"] == [2, 4], "6 is never trained"
    records = read_records(tmp_path / "p.jsonl")
    assert replay(records, 0.5, blocks=(1,), decision="paired").split == paired.split
    assert replay(records, 0.5, blocks=(1,)).split[0] == 4, "the same records, read by the paper's rule"
    from netsplit.cli import main

    assert main(["report", str(tmp_path / "p.jsonl"), "--blocks", "1", "--decision", "paired", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["split"][0] == 2, "report reads the records as the search decided"
    base, four = ([r for r in records if tuple(r.split) == split] for split in ((1,) * 5, (4, 1, 1, 1, 1)))
    assert paired_drop(base, four)[0] == pytest.approx(0.45)
    with pytest.raises(InputError, match="predate per-image results"):
        paired_drop([replace(base[0], validation_correct=None)], four)


def test_more_seeds_only_where_a_paired_decision_is_within_noise_and_up_to_a_cap(tmp_path):
    penalties = {1: {2: 0.1, 4: 0.45, 6: 2.0}}
    options = dict(blocks=(1,), candidate_factors=(2, 4, 6), validation_size=500, decision="paired")
    config = SearchConfig(**options, extra_seeds=3)
    oracle = Oracle(config, penalties, validation=True, images=500)
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lambda line: None).run()
    seeds = {}
    for job in oracle.calls:
        seeds.setdefault((job.split, job.role), []).append(job.seed)
    assert seeds[((2, 1, 1, 1, 1), "candidate")] == [0], "factor 2 was clear at once: no more seeds"
    assert seeds[((4, 1, 1, 1, 1), "candidate")] == [0, 1, 2, 3], "factor 4 within noise: 3 more seeds, the cap"
    assert seeds[((1,) * 5, "baseline")] == [0, 1, 2, 3], "and its reference, seed by seed"
    assert result.outcomes[0].within_noise == (4,) and result.split[0] == 2, "still within noise: the smaller factor"
    assert {r.seed for r in result.records} == {0, 1, 2, 3}, "the records the search used name every seed"
    with pytest.raises(InputError, match="extra_seeds settles paired decisions"):
        SearchConfig(blocks=(1,), extra_seeds=2)


def test_a_factor_settled_by_further_seeds_keeps_them_when_the_next_factor_needs_seeds_too(tmp_path):
    """Factor 2 is accepted on 3 seeds; factor 4's first further seed must not judge factor 2 again on 2 of them."""
    config = SearchConfig(blocks=(1,), candidate_factors=(2, 4), validation_size=1000, decision="paired", extra_seeds=3)
    oracle = Oracle(config, {1: {2: 0.3, 4: 0.45}}, validation=True, images=1000)
    lines = []
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lines.append).run()
    assert [line.split(":")[0] for line in lines if "more seed" in line] == \
        ["block 1 factor 2"] * 2 + ["block 1 factor 4"] * 3, "factor 2 settled on 2 more seeds, factor 4 took the cap"
    assert result.split[0] == 2 and result.outcomes[0].within_noise == (4,), "factor 2 kept, factor 4 within noise"
    assert replay(read_records(tmp_path / "r.jsonl"), 0.5, blocks=(1,), decision="paired").split == result.split


def test_further_seeds_can_settle_a_decision_that_one_seed_left_within_noise(tmp_path):
    config = SearchConfig(blocks=(1,), candidate_factors=(2,), validation_size=500, decision="paired", extra_seeds=6)
    oracle = Oracle(config, {1: {2: 0.2}}, validation=True, images=500)  # one image in 500 of each seed
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lambda line: None).run()
    tried = sorted(job.seed for job in oracle.calls if job.role == "candidate")
    assert result.split[0] == 2 and result.outcomes[0].within_noise == (), "settled: accepted"
    assert 1 < len(tried) < 7 and result.outcomes[0].intervals[2][1] < 0.5, "it stopped adding seeds once settled"
