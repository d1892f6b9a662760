"""near_dedupe: planted near-duplicates go, distinct episodes with shared boilerplate stay,
input order and determinism hold."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from toolbox.core import registry
from toolbox.core.filter import Dropped
from toolbox.core.models import Episode, Source, ToolCall, Turn
from toolbox.filters.near_dedupe import NearDedupe, NearDedupeOptions, near_duplicate_clusters, token_hashes

WORDS = (
    "report budget invoice meeting schedule project deadline customer order shipment account "
    "password settings profile dashboard calendar reminder document spreadsheet presentation "
    "slide chart table column formula filter export download folder archive server database "
    "query error warning message email reply attachment draft contract proposal review ticket "
    "release branch commit merge build deploy script module package browser window button menu"
).split()
BOILERPLATE = "Screen text: the window shows the toolbar, the sidebar and the main panel."


def episode(eid: str, body: str) -> Episode:
    """An episode whose text is `body` split over a user turn, a call, a result and an answer."""
    words = body.split(" ")
    q = len(words) // 4
    return Episode(
        id=eid,
        source=Source(dataset="test"),
        turns=[
            Turn(role="user", content=" ".join(words[:q])),
            Turn(
                role="assistant",
                content=" ".join(words[q : 2 * q]),
                tool_calls=[ToolCall(id="c1", name="click", arguments={"x": 10, "y": 20})],
            ),
            Turn(role="tool", content=BOILERPLATE + " " + " ".join(words[2 * q : 3 * q]), tool_call_id="c1"),
            Turn(role="assistant", content=" ".join(words[3 * q :])),
        ],
    )


def body(rng: random.Random, n: int = 160) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def run(episodes: list[Episode], **options: object) -> list[Episode | Dropped]:
    return list(NearDedupe(NearDedupeOptions(**options)).apply(iter(episodes)))


def edits(rng: random.Random, text: str, kind: str) -> str:
    words = text.split(" ")
    if kind == "whitespace":
        return "\n  ".join(" ".join(words[i : i + 7]) for i in range(0, len(words), 7)) + "   "
    if kind == "typos":
        for k in rng.sample(range(len(words)), 3):
            words[k] = words[k][1:] + words[k][0]
    elif kind == "words":
        for k in rng.sample(range(len(words)), 4):
            words[k] = rng.choice(WORDS)
    elif kind == "case":
        return text.upper()
    return " ".join(words)


@pytest.mark.parametrize("kind", ["whitespace", "typos", "words", "case"])
def test_planted_near_duplicates_are_dropped_naming_the_kept_episode(kind: str) -> None:
    rng = random.Random(kind)
    bodies = [body(rng) for _ in range(20)]
    originals = [episode(f"o{i}", b) for i, b in enumerate(bodies)]
    dups = [episode(f"d{i}", edits(rng, bodies[i], kind)) for i in range(0, 20, 2)]
    out = run(originals + dups)
    assert [x.id if isinstance(x, Episode) else None for x in out[:20]] == [e.id for e in originals]
    for i, result in zip(range(0, 20, 2), out[20:]):
        assert isinstance(result, Dropped), f"{kind}: d{i} was kept"
        assert result.filter == "near_dedupe"
        assert (result.reason, result.detail) == ("near duplicate", f"of o{i}")


def test_distinct_episodes_with_shared_boilerplate_are_kept() -> None:
    rng = random.Random(1)
    shared = body(random.Random("template"), 100)  # about half of every text, so they are LSH candidates
    episodes = [episode(f"e{i}", shared + " " + body(rng, 100)) for i in range(40)]
    out = run(episodes)
    assert out == episodes
    assert isinstance(run(episodes, threshold=50)[1], Dropped)  # they do get compared


def test_threshold_decides() -> None:
    rng = random.Random(2)
    a = body(rng)
    words = a.split(" ")
    for k in range(0, len(words), 8):  # one word in eight replaced: about 85-90 similar
        words[k] = "zzz"
    pair = [episode("a", a), episode("b", " ".join(words))]
    from rapidfuzz import fuzz

    from toolbox.filters.near_dedupe import normalize

    assert 70 < fuzz.ratio(normalize(pair[0].text()), normalize(pair[1].text())) < 99
    assert isinstance(run(pair, threshold=70)[1], Dropped)
    assert run(pair, threshold=99) == pair


def test_cluster_keeps_the_first_and_output_keeps_input_order() -> None:
    rng = random.Random(3)
    base = body(rng)
    other = body(rng)
    episodes = [
        episode("x", other),
        episode("b1", edits(rng, base, "typos")),
        episode("b0", base),
        episode("y", body(rng)),
        episode("b2", edits(rng, base, "whitespace")),
    ]
    out = run(episodes)
    assert [getattr(x, "id", None) or x.episode.id for x in out] == ["x", "b1", "b0", "y", "b2"]
    assert [type(x).__name__ for x in out] == ["Episode", "Episode", "Dropped", "Episode", "Dropped"]
    assert out[2].detail == out[4].detail == "of b1" and out[2].reason == "near duplicate"


def test_deterministic_across_workers_and_runs() -> None:
    rng = random.Random(4)
    texts = [body(rng, 80) for _ in range(300)]
    texts += [edits(rng, texts[i], "words") for i in range(0, 300, 3)]
    rng.shuffle(texts)
    one = near_duplicate_clusters(texts, NearDedupeOptions(workers=1))
    assert one == near_duplicate_clusters(texts, NearDedupeOptions(workers=2))
    assert one == near_duplicate_clusters(list(texts), NearDedupeOptions(workers=1))
    assert sum(k != i for i, k in enumerate(one)) == 100


def test_empty_stream_single_and_empty_texts() -> None:
    assert run([]) == []
    single = [episode("a", "just one")]
    assert run(single) == single
    assert near_duplicate_clusters(["", "", "a b c", "   "]) == [0, 0, 2, 0]


def test_token_hashes_ignore_punctuation_and_spacing() -> None:
    hashes, counts = token_hashes(["hello, world!", "", "world\thello"])
    assert counts.tolist() == [2, 0, 2]
    assert hashes[0] == hashes[3] and hashes[1] == hashes[2] and hashes[0] != hashes[1]


def test_registered_with_description_and_options_validated() -> None:
    assert registry.get("filters", "near_dedupe") is NearDedupe
    assert dict(registry.describe("filters"))["near_dedupe"]
    with pytest.raises(ValidationError):
        NearDedupeOptions(threshold=120)
    with pytest.raises(ValidationError):
        NearDedupeOptions(scorer="nope")
    with pytest.raises(ValidationError):
        NearDedupeOptions(workers=0)
