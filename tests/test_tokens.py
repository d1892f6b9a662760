"""Token counts: the same however they are counted (one episode, many at once in helper processes, with
the memory of recent counts full), and max_length decides a stream as it decides each episode."""

import json
from concurrent.futures import Future

import pytest
from episodes import sample_episode

from toolbox.core import tokens
from toolbox.core.config import ExperimentConfig
from toolbox.core.filter import Drop, Dropped, needs_whole_stream
from toolbox.core.models import Source
from toolbox.core.pipeline import apply_filter, make_pipeline, run
from toolbox.core.plugin import BuildContext
from toolbox.filters.max_length import MaxLength
from toolbox.formats.glaive import GlaiveFormat


def episodes(n: int):
    out = []
    for i in range(n):
        ep = sample_episode(i, f"request {i}: " + " ".join(f"word{j % 97}" for j in range(i % 300)))
        if i % 3 == 0:
            ep.system = f"You operate computer number {i % 5}."  # a few distinct heads
        out.append(ep)
    return out


def direct(ep) -> int:
    """Tokens counted from scratch, text by text."""
    encode = tokens.encoding().encode_ordinary
    head = (ep.system or "") + "".join(json.dumps(t.model_dump(), ensure_ascii=False) for t in ep.tools)
    return len(encode(head)) + sum(len(encode(tokens.turn_text(t))) + 4 for t in ep.turns)


def test_counts_are_the_same_alone_in_batches_and_with_the_memory_full(monkeypatch):
    eps = episodes(700)
    expected = [direct(ep) for ep in eps]
    tokens._memo.clear()
    assert [tokens.episode_tokens(ep) for ep in eps] == expected  # one at a time
    tokens._memo.clear()
    assert [head + sum(turns) for head, turns in tokens.count_episodes(eps)] == expected  # at once
    assert [tokens.episode_tokens(ep) for ep in eps] == expected  # remembered
    monkeypatch.setattr(tokens, "_MEMO_SIZE", 40)  # the memory is cleared again and again
    tokens._memo.clear()
    assert [head + sum(turns) for head, turns in tokens.count_episodes(eps)] == expected
    assert [tokens.episode_tokens(ep) for ep in eps] == expected


@pytest.mark.parametrize("mode", ["trim", "drop"])
def test_max_length_decides_a_stream_as_it_decides_each_episode(mode):
    eps = episodes(2 * MaxLength.batch + 50)
    for ep in eps[::4]:
        ep.turns.insert(3, ep.turns[-1].model_copy())  # an early final answer: trimming can cut there
    flt = MaxLength(MaxLength.Options(max_tokens=400, mode=mode), BuildContext())
    flt.plugin_name = "max_length"
    tokens._memo.clear()
    alone = [flt.check(ep) for ep in eps]
    for streamed in (flt.apply(iter(eps)), apply_filter(flt, iter(eps))):
        tokens._memo.clear()
        verdicts = list(streamed)
        assert [isinstance(v, Drop) for v in alone] == [isinstance(v, Dropped) for v in verdicts]
        assert 0 < sum(isinstance(v, Drop) for v in alone) < len(eps)
        kept = [v for v in verdicts if not isinstance(v, Dropped)]
        assert kept == [v for v in alone if not isinstance(v, Drop)]


def test_a_batch_that_cannot_be_prepared_is_checked_one_by_one(caplog):
    flt = MaxLength(MaxLength.Options(max_tokens=400), BuildContext())
    flt.plugin_name = "max_length"
    eps = episodes(MaxLength.batch + 5)
    failing = [True]

    def prepare(batch):
        if failing.pop() if failing else False:
            raise RuntimeError("tokenizer crashed")
        MaxLength.prepare(flt, batch)

    flt.prepare = prepare  # the first batch fails, the second is prepared
    verdicts = list(apply_filter(flt, iter(eps)))
    assert [v.id if not isinstance(v, Dropped) else v.episode.id for v in verdicts] == [e.id for e in eps]
    assert any("max_length" in r.getMessage() and "tokenizer crashed" in r.getMessage() for r in caplog.records)
    assert any("checked one by one" in r.getMessage() for r in caplog.records)


def test_max_length_counts_in_batches_yet_runs_in_the_workers():
    """Counting 512 episodes at once does not make max_length a whole-stream filter: with
    workers, it still runs on each part of the input (core/filter.py `worker_filters`)."""
    flt = MaxLength(MaxLength.Options(), BuildContext())
    assert MaxLength.batch > 1 and not needs_whole_stream(flt)


def test_counts_made_ahead_in_the_helper_processes_are_the_counts():
    eps = episodes(2 * tokens.AHEAD + 7)  # two whole batches and a part
    counter = tokens.TokenCounter()
    passed = list(counter.ahead(iter(eps)))
    assert len(passed) == len(eps) and all(a is b for a, b in zip(passed, eps))  # the stream, unchanged
    assert all(isinstance(counter._known[id(e)][1][0], Future) for e in eps)  # every one was sent
    assert [counter.count(e) for e in eps] == [direct(e) for e in eps]
    small = tokens.TokenCounter()
    assert len(list(small.ahead(iter(eps[:10])))) == 10 and not small._known  # less than a batch: counted when asked


def test_a_build_counts_each_written_episode_once_ahead_and_keeps_none_after(tmp_path, monkeypatch):
    """Dedupe and max_length in the driver: the counts made ahead are the tokens of what was
    written, and the counter holds no episode once the build is done (dropped, trimmed, written)."""
    eps = episodes(3 * tokens.AHEAD)
    for ep in eps[::4]:
        ep.turns.insert(3, ep.turns[-1].model_copy())  # an early final answer: trimming can cut there
    eps += [ep.model_copy(update={"id": ep.id + "-copy"}) for ep in eps[:40]]  # exact duplicates
    fmt = GlaiveFormat()
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(fmt.encode(ep)) + "\n" for ep in eps))
    config = ExperimentConfig.model_validate(
        {
            "datasets": [{"name": "file", "path": "in.jsonl", "format": "glaive"}],
            "filters": ["exact_dedupe", {"name": "max_length", "max_tokens": 400}],
            "format": "glaive",
            "output": "out.jsonl",
        }
    )
    pipeline = make_pipeline(config, tmp_path)
    counter = pipeline.ctx.shared(tokens.TokenCounter, tokens.TokenCounter)
    sent = []
    monkeypatch.setattr(counter, "_send", lambda batch, send=counter._send: (sent.extend(batch), send(batch)))
    stats = run(pipeline, tmp_path / "out.jsonl")
    assert len(sent) == len(eps)  # all counted ahead
    written = [fmt.decode(json.loads(line), "x", Source(dataset="t")) for line in (tmp_path / "out.jsonl").open()]
    assert stats.tokens == sum(direct(ep) for ep in written)
    assert 0 < stats.written < len(eps) - 40 and not counter._known
