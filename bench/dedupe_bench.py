"""near_dedupe vs HF datatrove's MinHash dedup, on the same synthetic computer-use episodes.

    python bench/dedupe_bench.py                       # 1k, 10k, 100k; datatrove at 1k and 10k
    python bench/dedupe_bench.py --sizes 1000 --datatrove-sizes 1000 --out -

Each corpus has a known share of planted near-duplicates (whitespace changes, typos, a few
changed words, changed coordinates, a dropped sentence) of earlier episodes, plus distinct
episodes that share boilerplate (same task template, same app, different content). Recall is
the share of planted duplicates removed (at most size-1 per planted cluster); precision is the
share of removed episodes that were planted duplicates. datatrove runs its four MinHash stages
(signature, buckets, cluster, filter) with a LocalPipelineExecutor on `--cores` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolbox.core.filter import Dropped  # noqa: E402
from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn  # noqa: E402
from toolbox.filters.near_dedupe import NearDedupe, NearDedupeOptions  # noqa: E402

# ---------------------------------------------------------------- synthetic episodes

COMMON = """the be to of and a in that have it for not on with he as you do at this but his by from they
we say her she or an will my one all would there their what so up out if about who get which go me when
make can like time no just him know take people into year your good some could them see other than then
now look only come its over think also back after use two how our work first well way even new want
because any these give day most us is are was were been has had did said made found need should still
between under last never before here through while where more very long little great old right big high
small large next early young important few public bad same able""".split()
CONTENT = """report budget invoice meeting schedule project deadline customer order shipment account
password settings profile dashboard calendar reminder document spreadsheet presentation slide chart
table column row cell formula filter sort export import download upload folder file archive backup
server database query result error warning message notification email reply forward attachment draft
contract proposal review approval comment feedback issue ticket release version branch commit merge
build deploy test script function variable module package library framework plugin extension browser
tab window page link button menu toolbar sidebar panel dialog form field checkbox dropdown search
results price product cart checkout payment shipping address phone number quarter revenue forecast
marketing campaign audience survey response analysis summary agenda minutes notes task list priority
status owner team manager engineer designer client vendor partner travel flight hotel booking receipt
expense policy training course lesson video recording transcript subtitle playlist album photo image
crop resize filter layer color font style theme template layout header footer margin print preview""".split()
SYLLABLES = "ka lo mi ne ru sa ti vo ze pa qui bel dor fen gal hin jor kel lum mar nor pel ros tal ven wil".split()
APPS = [
    "Chrome",
    "Firefox",
    "VS Code",
    "Terminal",
    "Excel",
    "Google Sheets",
    "Gmail",
    "Slack",
    "Finder",
    "Notion",
    "Figma",
    "Jira",
    "Outlook",
    "Word",
    "Zoom",
    "Spotify",
    "Calendar",
    "Trello",
    "GitHub Desktop",
]
TASKS = [
    "Open {app} and find the {w1} {w2} from {name}, then update the {w3} before the {w4} deadline.",
    "In {app}, export the {w1} {w2} for {name} as a {w3} and send it to the {w4} team.",
    "Reply to {name}'s message in {app} about the {w1} {w2} and attach the latest {w3}.",
    "Use {app} to create a new {w1} called {name} {w2} and add a {w3} for the {w4}.",
    "Check the {w1} status in {app}, fix the {w2} {w3}, and tell {name} when it is done.",
]
THOUGHTS = [
    "I need to open {app} first so I can look for the {w1}.",
    "The {w1} panel is visible now; I will click the {w2} button to continue.",
    "I should type the {w1} {w2} into the search field to find the right {w3}.",
    "The page shows the {w1} list, so I will scroll down to the {w2} section.",
    "Now I will check that the {w1} was saved and the {w2} is correct.",
]
BOILERPLATE = "Screen text:"
FINALS = [
    "Done. The {w1} {w2} has been updated and {name} was notified.",
    "The task is complete: the {w1} is saved in {app} and the {w2} matches the {w3}.",
]
TOOLS = [
    ToolSpec(
        name="click",
        description="Click at a screen position",
        parameters={"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}},
    ),
    ToolSpec(
        name="type_text",
        description="Type text with the keyboard",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}},
    ),
    ToolSpec(
        name="open_app",
        description="Open or focus an application",
        parameters={"type": "object", "properties": {"name": {"type": "string"}}},
    ),
    ToolSpec(
        name="scroll",
        description="Scroll the focused window",
        parameters={"type": "object", "properties": {"dy": {"type": "integer"}}},
    ),
    ToolSpec(
        name="press_key",
        description="Press a key combination",
        parameters={"type": "object", "properties": {"keys": {"type": "string"}}},
    ),
]


class Vocabulary:
    """Zipf-weighted words: frequent English words, work vocabulary and made-up names."""

    def __init__(self, rng: random.Random) -> None:
        names = sorted(
            {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() for _ in range(3000)}
        )
        rare = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4))) for _ in range(4000)})
        self.names = names
        self.words = COMMON + CONTENT + rare
        self.cum_weights = list(accumulate(1.0 / (rank + 10) ** 1.1 for rank in range(len(self.words))))
        self.content = CONTENT + rare[:1500]

    def sentence(self, rng: random.Random, lo: int, hi: int) -> str:
        words = rng.choices(self.words, cum_weights=self.cum_weights, k=rng.randint(lo, hi))
        return " ".join(words).capitalize() + "."

    def fill(self, rng: random.Random, template: str, app: str, name: str) -> str:
        w = [rng.choice(self.content) for _ in range(4)]
        return template.format(app=app, name=name, w1=w[0], w2=w[1], w3=w[2], w4=w[3])


def make_episode(
    rng: random.Random, vocab: Vocabulary, eid: str, task: str | None = None, app: str | None = None
) -> Episode:
    """One episode of about 120-300 words: task, 3-5 steps of thought + call + screen text, final."""
    app = app or rng.choice(APPS)
    name = rng.choice(vocab.names)
    task = task or vocab.fill(rng, rng.choice(TASKS), app, name)
    turns = [Turn(role="user", content=task)]
    for step in range(rng.randint(3, 5)):
        call_id = f"call_{step}"
        kind = rng.choice(["click", "type_text", "open_app", "scroll", "press_key", "click"])
        args: dict[str, Any] = {
            "click": lambda: {"x": rng.randint(0, 1920), "y": rng.randint(0, 1080)},
            "type_text": lambda: {"text": " ".join(rng.choices(vocab.content, k=rng.randint(2, 6)))},
            "open_app": lambda: {"name": app},
            "scroll": lambda: {"dy": rng.choice([-600, -300, 300, 600])},
            "press_key": lambda: {"keys": rng.choice(["ctrl+s", "enter", "ctrl+f", "tab", "cmd+shift+t"])},
        }[kind]()
        thought = vocab.fill(rng, rng.choice(THOUGHTS), app, name)
        screen = f"{BOILERPLATE} {app} - {rng.choice(vocab.content).capitalize()} {name}\n" + " ".join(
            vocab.sentence(rng, 5, 14) for _ in range(rng.randint(2, 5))
        )
        turns.append(
            Turn(role="assistant", content=thought, tool_calls=[ToolCall(id=call_id, name=kind, arguments=args)])
        )
        turns.append(Turn(role="tool", content=screen, tool_call_id=call_id, name=kind))
    turns.append(Turn(role="assistant", content=vocab.fill(rng, rng.choice(FINALS), app, name)))
    return Episode(
        id=eid,
        system="You operate a desktop computer with the tools given.",
        tools=TOOLS,
        turns=turns,
        source=Source(dataset="synthetic"),
        metadata={"app": app},
    )


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word + rng.choice("aeiou")
    i = rng.randrange(len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i:]


def perturb(rng: random.Random, vocab: Vocabulary, episode: Episode, eid: str) -> Episode:
    """A near-duplicate: 1-3 kinds of small edits (a re-recording of the same work)."""
    ep = episode.model_copy(deep=True, update={"id": eid})
    kinds = rng.sample(["space", "typo", "words", "coords", "sentence", "case"], k=rng.randint(1, 3))
    texts = [t for t in ep.turns if t.content]

    def edit_words(fn, howmany: int) -> None:
        for _ in range(howmany):
            turn = rng.choice(texts)
            words = turn.content.split(" ")
            k = rng.randrange(len(words))
            words[k] = fn(words[k])
            turn.content = " ".join(words)

    for kind in kinds:
        if kind == "space":  # reflowed whitespace
            for turn in texts:
                turn.content = turn.content.replace(" ", rng.choice(["  ", " \n", "\t", " "]), rng.randint(1, 4))
        elif kind == "typo":
            edit_words(lambda w: _typo(rng, w), rng.randint(1, 8))
        elif kind == "words":
            edit_words(lambda w: rng.choice(vocab.words), rng.randint(1, 12))
        elif kind == "case":
            edit_words(str.upper, rng.randint(1, 5))
        elif kind == "coords":
            for turn in ep.turns:
                for call in turn.tool_calls:
                    if call.name == "click":
                        call.arguments = {
                            "x": call.arguments["x"] + rng.randint(-9, 9),
                            "y": call.arguments["y"] + rng.randint(-9, 9),
                        }
        elif kind == "sentence":  # a short sentence of screen text went missing
            screens = [t for t in ep.turns if t.role == "tool" and t.content.count(". ") >= 2]
            if screens:
                turn = rng.choice(screens)
                parts = turn.content.split(". ")
                del parts[rng.randrange(1, len(parts))]
                turn.content = ". ".join(parts)
    return ep


def make_corpus(n: int, dup_share: float, seed: int) -> tuple[list[Episode], list[int]]:
    """n episodes, `dup_share` of them planted near-duplicates; also returns each episode's
    planted cluster (the index of its original; an unrelated episode is its own cluster)."""
    rng = random.Random(seed)
    vocab = Vocabulary(random.Random(12345))
    n_dups = int(n * dup_share)
    n_orig = n - n_dups
    originals: list[Episode] = []
    for i in range(n_orig):
        if originals and rng.random() < 0.2:  # distinct episode sharing another's task and app
            base = rng.choice(originals)
            originals.append(make_episode(rng, vocab, f"ep{i}", task=base.turns[0].content, app=base.metadata["app"]))
        else:
            originals.append(make_episode(rng, vocab, f"ep{i}"))
    items: list[tuple[Episode, int]] = [(e, i) for i, e in enumerate(originals)]
    for d in range(n_dups):
        src = rng.randrange(n_orig)
        items.append((perturb(rng, vocab, originals[src], f"dup{d}"), src))
    rng.shuffle(items)
    return [e for e, _ in items], [g for _, g in items]


# ---------------------------------------------------------------- scoring


def score(dropped: list[bool], group: list[int]) -> tuple[float, float, int]:
    """Recall of planted duplicates, precision of drops, number dropped."""
    sizes: dict[int, int] = {}
    removed: dict[int, int] = {}
    for g, d in zip(group, dropped):
        sizes[g] = sizes.get(g, 0) + 1
        removed[g] = removed.get(g, 0) + int(d)
    planted = sum(s - 1 for s in sizes.values())
    correct = sum(min(removed[g], sizes[g] - 1) for g in sizes)
    total = sum(dropped)
    return correct / planted if planted else 1.0, correct / total if total else 1.0, total


# ---------------------------------------------------------------- the two tools


def run_near_dedupe(episodes: list[Episode], options: NearDedupeOptions) -> tuple[list[bool], float]:
    start = time.perf_counter()
    out = list(NearDedupe(options).apply(iter(episodes)))
    return [isinstance(x, Dropped) for x in out], time.perf_counter() - start


def run_datatrove(texts: list[str], tokenizer: str, cores: int, workdir: Path) -> tuple[list[bool], float]:
    """datatrove's 4 MinHash stages, default MinhashConfig, on `cores` processes; input JSONL
    sharded into `cores` files (reading is included in the time, as in a real run)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.utils.word_tokenizers import WhitespaceTokenizer

    _patch_xxhash()
    from loguru import logger

    logger.remove()  # datatrove logs every stage at INFO; keep warnings
    logger.add(sys.stderr, level="WARNING")
    shutil.rmtree(workdir, ignore_errors=True)
    data = workdir / "data"
    data.mkdir(parents=True)
    for r in range(cores):
        with open(data / f"part{r}.jsonl", "w") as f:
            for i in range(r, len(texts), cores):
                f.write(json.dumps({"id": str(i), "text": texts[i]}) + "\n")
    language: Any = {"default": "en", "spacy_xx": WhitespaceTokenizer(), "split": SplitTokenizer()}[tokenizer]
    config = MinhashConfig()
    sigs, buckets, clusters, kept = (workdir / x for x in ("sigs", "buckets", "clusters", "kept"))
    kept.mkdir()
    logs = str(workdir / "logs")

    def reader() -> JsonlReader:
        return JsonlReader(str(data), glob_pattern="*.jsonl")

    def record(data_iter, rank: int = 0, world_size: int = 1):
        with open(kept / f"{rank}.txt", "w") as f:
            for doc in data_iter:
                f.write(doc.id + "\n")
                yield doc

    stages = [
        LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(str(sigs), config=config, language=language)],
            tasks=cores,
            workers=cores,
            logging_dir=logs + "1",
            start_method="fork",
        ),
        LocalPipelineExecutor(
            [MinhashDedupBuckets(str(sigs), str(buckets), config=config)],
            tasks=config.num_buckets,
            workers=cores,
            logging_dir=logs + "2",
            start_method="fork",
        ),
        LocalPipelineExecutor(
            [MinhashDedupCluster(str(buckets), str(clusters), config=config)],
            tasks=1,
            logging_dir=logs + "3",
            start_method="fork",
        ),
        LocalPipelineExecutor(
            [reader(), MinhashDedupFilter(str(clusters)), record],
            tasks=cores,
            workers=cores,
            logging_dir=logs + "4",
            start_method="fork",
        ),
    ]
    start = time.perf_counter()
    for stage in stages:
        stage.run()
    seconds = time.perf_counter() - start
    kept_ids = {int(line) for p in kept.glob("*.txt") for line in p.read_text().split()}
    return [i not in kept_ids for i in range(len(texts))], seconds


def _patch_xxhash() -> None:
    """datatrove 0.10.1 passes str to xxhash, which xxhash >= 4 refuses (3.x encoded it as
    UTF-8 itself). Encode first, as xxhash 3 did: same hashes, same cost."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    try:
        xxhash.xxh64_intdigest("a")
    except TypeError:
        dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)
        dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)


try:  # a plain str.split tokenizer for datatrove (its own "whitespace" one is spaCy's xx tokenizer)
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]
except ImportError:  # datatrove not installed: near_dedupe only
    SplitTokenizer = None  # type: ignore[assignment,misc]


# ---------------------------------------------------------------- main


@dataclass
class Row:
    size: int
    tool: str
    seconds: float
    recall: float
    precision: float
    dropped: int
    note: str = ""

    @property
    def docs_per_s(self) -> float:
        return self.size / self.seconds


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--datatrove-sizes", default="1000,10000,100000", help="sizes to run datatrove on")
    parser.add_argument("--datatrove-tokenizers", default="default,spacy_xx,split")
    parser.add_argument(
        "--datatrove-slow-max",
        type=int,
        default=10000,
        help="largest size for the slow spaCy tokenizers (default, spacy_xx)",
    )
    parser.add_argument("--dup-share", type=float, default=0.1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--out", default=str(Path(__file__).with_name("RESULTS-dedupe.md")), help="markdown file, or - for stdout only"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dt_sizes = {int(s) for s in args.datatrove_sizes.split(",") if s}
    options = NearDedupeOptions(workers=args.cores)
    rows: list[Row] = []
    for n in sizes:
        t0 = time.perf_counter()
        episodes, group = make_corpus(n, args.dup_share, args.seed)
        print(f"# {n} episodes generated in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
        dropped, seconds = run_near_dedupe(episodes, options)
        rows.append(Row(n, "near_dedupe", seconds, *score(dropped, group)))
        print(_fmt(rows[-1]), file=sys.stderr, flush=True)
        if n in dt_sizes:
            texts = [e.text() for e in episodes]
            for tok in args.datatrove_tokenizers.split(","):
                if tok != "split" and n > args.datatrove_slow_max:
                    continue
                with tempfile.TemporaryDirectory(prefix="dtbench") as tmp:
                    dropped, seconds = run_datatrove(texts, tok, args.cores, Path(tmp) / "w")
                rows.append(Row(n, f"datatrove ({tok})", seconds, *score(dropped, group)))
                print(_fmt(rows[-1]), file=sys.stderr, flush=True)
    report = render(rows, args, options)
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)


def _fmt(r: Row) -> str:
    return f"{r.size:>7} {r.tool:<22} {r.seconds:8.2f}s {r.docs_per_s:9.0f} docs/s recall {r.recall:.3f} precision {r.precision:.3f} dropped {r.dropped}"


def render(rows: list[Row], args: argparse.Namespace, options: NearDedupeOptions) -> str:
    try:
        import datatrove

        dt_version = (
            datatrove.__version__
            if hasattr(datatrove, "__version__")
            else subprocess.run([sys.executable, "-m", "pip", "show", "datatrove"], capture_output=True, text=True)
            .stdout.split("Version: ")[1]
            .split()[0]
        )
    except Exception:
        dt_version = "not installed"
    import rapidfuzz

    lines = [
        "# near_dedupe vs datatrove MinHash: results",
        "",
        f"Machine: {machine()}. Both tools limited to {args.cores} cores. rapidfuzz {rapidfuzz.__version__}, datatrove {dt_version}.",
        f"Command: `python bench/dedupe_bench.py --sizes {args.sizes} --datatrove-sizes {args.datatrove_sizes} --datatrove-slow-max {args.datatrove_slow_max} --cores {args.cores}`",
        f"Load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} (the machine is shared; other work inflates times).",
        f"Corpus: synthetic computer-use episodes (`make_corpus`, seed {args.seed}), {args.dup_share:.0%} planted near-duplicates; text = `Episode.text()`.",
        f"near_dedupe options: {options.model_dump()}.",
        "datatrove: default `MinhashConfig` (5-grams, 14 buckets x 8 hashes), all four stages, JSONL input on disk.",
        "",
        "| episodes | tool | seconds | docs/s | recall | precision | dropped |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.size:,} | {r.tool} | {r.seconds:.2f} | {r.docs_per_s:,.0f} | {r.recall:.3f} | {r.precision:.3f} | {r.dropped:,} |"
        )
    lines.append("")
    ours = {r.size: r for r in rows if r.tool == "near_dedupe"}
    for r in rows:
        if r.tool != "near_dedupe" and r.size in ours:
            lines.append(
                f"- {r.size:,}: near_dedupe is {ours[r.size].docs_per_s / r.docs_per_s:.1f}x the speed of {r.tool} "
                f"(recall {ours[r.size].recall:.3f} vs {r.recall:.3f})."
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
