"""Grounding (toolbox/grounding): what is checked, how values are compared with the evidence,
where they are found, and the `grounded` filter on episodes that carry their evidence."""

from __future__ import annotations

import json

import pytest

from toolbox.core.filter import Dropped
from toolbox.core.models import Episode, EpisodeEvidence, EvidenceAction, EvidenceWord, Source, ToolCall, ToolSpec, Turn
from toolbox.core.plugin import BuildContext
from toolbox.filters.grounded import Grounded
from toolbox.grounding import Evidence, ground
from toolbox.grounding.normalize import normal
from toolbox.grounding.values import episode_values, fact_tokens


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Llama-7B", "llama 7b"),
        ("12,345.5", "12345.5"),
        ("Ilama-7b-O5O2", "llama-7b-0502"),  # OCR: I/l, O/0 in a word with digits
        ("run  #42", "run-42"),
        ("ＡＢＣ", "abc"),
    ],
)
def test_values_equal_in_normal_form(a, b):
    assert normal(a) == normal(b)


@pytest.mark.parametrize(("a", "b"), [("2024-01-15", "2024-01-16"), ("1.5", "15"), ("llama2", "llama-7b")])
def test_values_that_differ_stay_apart(a, b):
    assert normal(a) != normal(b)


def test_fact_like_tokens_of_free_text():
    text = (
        "Run llama-7b-0502 finished on 2026-05-02 at 14:30 with loss 1.734, 3 epochs. "
        'I sent "the weekly report" to Dana Whitfield and saved notes.txt in runs/llama. The End'
    )
    assert fact_tokens(text) == [
        "llama-7b-0502",
        "2026-05-02",
        "14:30",
        "1.734",
        "the weekly report",
        "Dana Whitfield",
        "notes.txt",
        "runs/llama",
        "End",
    ]


def _episode(arguments: dict, response: str, answer: str, metadata: dict | None = None) -> Episode:
    tool = ToolSpec(
        name="search_runs",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "sort": {"type": "string", "enum": ["newest", "oldest"]},
                "limit": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    )
    return Episode(
        id="e",
        tools=[tool],
        turns=[
            Turn(role="user", content="Find the run named Zebra from 1999"),  # the request is not checked
            Turn(role="assistant", tool_calls=[ToolCall(id="c", name="search_runs", arguments=arguments)]),
            Turn(role="tool", tool_call_id="c", name="search_runs", content=response),
            Turn(role="assistant", content=answer),
        ],
        source=Source(dataset="sessions"),
        metadata=metadata or {},
    )


def test_what_is_checked():
    episode = _episode(
        {"query": "llama-7b", "sort": "newest", "limit": 5, "tags": ["prod", "v2"], "exact": True, "page": 12},
        '{"runs": [{"name": "llama-7b-0502", "loss": 1.734, "done": true}]}',
        "It is llama-7b-0502.",
    )
    checked = [(v.text, v.where) for v in episode_values(episode)]
    assert checked == [
        ("llama-7b", "call 1 search_runs.query"),
        ("prod", "call 1 search_runs.tags[0]"),
        ("v2", "call 1 search_runs.tags[1]"),
        ("12", "call 1 search_runs.page"),
        ("llama-7b-0502", "response 1 (search_runs).runs[0].name"),
        ("1.734", "response 1 (search_runs).runs[0].loss"),
        ("llama-7b-0502", "final answer"),
    ]


def evidence() -> Evidence:
    ev = Evidence()
    words = [("Runs:", 10), ("llama-7b-O5O2", 80), ("finished", 240), ("2024-01-15", 330), ("12,480", 440)]
    ev.add_words(
        [EvidenceWord(text=t, box=(x, 100, x + 60, 116), conf=0.9, mid=(x / 1000, 0.1)) for t, x in words],
        "frames/000003.webp",
        interval=2,
    )
    ev.add_text("typed", "llama 7b\n", interval=1)
    ev.add_text("window", "Dashboard - Weights & Biases - Chromium")
    return ev


def test_where_a_value_is_found():
    ev = evidence()
    run = ev.find("llama-7b-0502")
    assert (run.source, run.frame, run.box, run.score, run.interval) == (
        "screen",
        "frames/000003.webp",
        (80, 100, 140, 116),
        100,
        2,
    )
    assert ev.find("llama-7b-0502 finished").box == (80, 100, 300, 116)  # words joined
    assert ev.find("12480").box == (440, 100, 500, 116)
    assert ev.find("2024-01").box == (330, 100, 390, 116)  # a run of whole words of "2024-01-15"
    typed = ev.find("Llama 7B")
    assert (typed.source, typed.span) == ("typed", (0, 8))
    assert ev.find("Weights & Biases").source == "window"


def test_near_matches_forgive_letters_never_digits():
    ev = evidence()
    near = ev.find("Weights & Biasses")  # a letter misread
    assert near is not None and near.source == "window" and 90 <= near.score < 100
    for invented in ("llama2", "llama-7b-0503", "2024-01-16", "12,481", "llama-7", "finish", "Dash"):
        assert ev.find(invented) is None, invented


def test_the_trace_of_an_episode():
    episode = _episode({"query": "llama 7b"}, "llama-7b-0502 finished", "It finished on 2024-01-17.")
    grounding = ground(episode, evidence())
    assert (grounding.share, grounding.checked, grounding.ungrounded) == (0.6667, 3, ["2024-01-17"])
    assert grounding.describe() == '"2024-01-17" (final answer)'
    data = grounding.as_metadata()
    assert data["values"][0] == {
        "value": "llama 7b",
        "where": "call 1 search_runs.query",
        "found": {"source": "typed", "span": [0, 8], "interval": 1},
    }
    assert data["values"][2] == {"value": "2024-01-17", "where": "final answer"}
    json.dumps(data)


# -- the `grounded` filter ---------------------------------------------------------------------


def carried() -> dict:
    return EpisodeEvidence(
        session="s",
        windows=["Runs - Chromium"],
        main_frame="frames/000002.webp",
        actions=[
            EvidenceAction(kind="type", t=1.0, text="llama-7b", result="llama-7b-0502 finished 1.734"),
            EvidenceAction(kind="click", t=2.0, x=300, y=200, target="Open run", frame_before="frames/000001.webp"),
        ],
        ocr=[EvidenceWord(text="2026-05-02", box=(5, 5, 80, 20), conf=0.9, mid=(0.04, 0.01))],
    ).as_metadata()


def test_the_grounded_filter_keeps_traced_episodes_and_drops_invented_ones(tmp_path):
    ctx = BuildContext(base_dir=tmp_path, cache_dir=tmp_path)
    flt = Grounded(Grounded.Options(), ctx)
    flt.plugin_name = "grounded"
    true = _episode({"query": "llama-7b"}, "llama-7b-0502 finished (loss 1.734)", "Created 2026-05-02.", carried())
    invented = _episode({"query": "llama2"}, "llama2-chat finished", "Done.", carried())
    from_file = _episode({"query": "anything"}, "whatever 42", "Done.")
    out = list(flt.apply(iter([true, invented, from_file])))
    assert out[0].metadata["grounding"]["share"] == 1.0
    assert isinstance(out[1], Dropped) and out[1].reason == "ungrounded"
    assert out[1].detail == '"llama2" (call 1 search_runs.query), "llama2-chat" (response 1 (search_runs))'
    assert out[2] is from_file and ctx.stats.extra["grounded_without_evidence"] == 1

    keep = Grounded(Grounded.Options(on_ungrounded="keep"), ctx)
    [flagged] = list(keep.apply(iter([invented])))
    assert flagged.metadata["grounding"]["kept_ungrounded"] is True
