"""near_dedupe vs HF datatrove's MinHash dedup, on the same synthetic computer-use episodes.

    python bench/dedupe_bench.py                       # 1k, 10k, 100k; datatrove at 1k and 10k
    python bench/dedupe_bench.py --sizes 1000 --datatrove-sizes 1000 --out -
    python bench/dedupe_bench.py --sizes 100000,1000000 --before /tmp/old --before-max 300000 \
        --datatrove-sizes 100000 --datatrove-configs default,same --datatrove-tokenizers split

near_dedupe runs in a fresh process on the texts (loaded first: the baseline), so its peak RSS
above that baseline is measured (sampled every 20 ms); `--before DIR` runs an earlier checkout's
near_dedupe the same way in the same run. Corpora above 100k are made of independent 100k
corpora (seeds seed, seed+1, ...: planted duplicates within each) and kept on disk (bench/_work).

Each corpus has a known share of planted near-duplicates (whitespace changes, typos, a few
changed words, changed coordinates, a dropped sentence) of earlier episodes, plus distinct
episodes that share boilerplate (same task template, same app, different content). Recall is
the share of planted duplicates removed (at most size-1 per planted cluster); precision is the
share of removed episodes that were planted duplicates. datatrove runs its four MinHash stages
(signature, buckets, cluster, filter) with a LocalPipelineExecutor on `--cores` processes,
with its default MinhashConfig (`default`: 5-grams, 14 buckets x 8 hashes) and/or set to
near_dedupe's shingles and bands (`same`: 3-grams, 32 x 4) - it has no verification step.
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

from toolbox.core.models import Episode, Source, ToolCall, ToolSpec, Turn  # noqa: E402
from toolbox.filters.near_dedupe import NearDedupeOptions  # noqa: E402

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


CORPUS_CHUNK = 100_000
WORK = Path(__file__).resolve().parent / "_work" / "dedupe"


def corpus_file(n: int, dup_share: float, seed: int) -> Path:
    """The texts and planted clusters of an n-episode corpus, one JSON line each (made once)."""
    path = WORK / f"corpus-{n}-{dup_share}-{seed}.jsonl"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for first in range(0, n, CORPUS_CHUNK):
            size = min(CORPUS_CHUNK, n - first)
            episodes, group = make_corpus(size, dup_share, seed + first // CORPUS_CHUNK)
            for episode, g in zip(episodes, group):
                f.write(json.dumps({"text": episode.text(), "group": first + g}) + "\n")
            print(f"# corpus: {first + size:,} of {n:,} episodes made", file=sys.stderr, flush=True)
    tmp.rename(path)
    return path


def read_corpus(path: Path) -> tuple[list[str], list[int]]:
    texts, groups = [], []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            texts.append(row["text"])
            groups.append(row["group"])
    return texts, groups


# near_dedupe of the code at argv[1] on the corpus at argv[2], in this fresh process: the texts
# are loaded first (the baseline), then peak RSS is sampled while it runs
RUN_NEAR_DEDUPE = """
import json, sys, threading, time
sys.path.insert(0, sys.argv[1])
from toolbox.filters.near_dedupe import NearDedupeOptions, near_duplicate_clusters
texts = [json.loads(line)["text"] for line in open(sys.argv[2])]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
base = peak = rss()
running = True
def sample():
    global peak
    while running:
        peak = max(peak, rss())
        time.sleep(0.02)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
start = time.perf_counter()
keep_of = near_duplicate_clusters(texts, NearDedupeOptions(**json.loads(sys.argv[3])))
seconds = time.perf_counter() - start
running = False
thread.join()
peak = max(peak, rss())
print(json.dumps({"seconds": seconds, "peak_above_base": peak - base, "base": base,
                  "dropped": [i for i, k in enumerate(keep_of) if k != i]}))
"""


def run_near_dedupe(code: Path, corpus: Path, options: NearDedupeOptions) -> tuple[list[bool], float, int]:
    """(dropped per text, seconds, peak RSS above the loaded texts in bytes)."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN_NEAR_DEDUPE, str(code), str(corpus), options.model_dump_json()],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"near_dedupe ({code}) failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    dropped = set(result["dropped"])
    n = sum(1 for _ in corpus.open())
    return [i in dropped for i in range(n)], result["seconds"], result["peak_above_base"]


DATATROVE_CONFIGS = {"default": {}, "same": {"n_grams": 3, "num_buckets": 32, "hashes_per_bucket": 4}}


def run_datatrove(
    texts: list[str], tokenizer: str, cores: int, workdir: Path, config_name: str = "default"
) -> tuple[list[bool], float]:
    """datatrove's 4 MinHash stages on `cores` processes; input JSONL sharded into `cores` files
    (reading is included in the time, as in a real run). `config_name`: DATATROVE_CONFIGS."""
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
    config = MinhashConfig(**DATATROVE_CONFIGS[config_name])
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
    peak: int | None = None  # bytes of RSS above the loaded texts (near_dedupe only)

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
    parser.add_argument("--datatrove-configs", default="default", help="default (5-gram 14x8), same (3-gram 32x4)")
    parser.add_argument(
        "--datatrove-slow-max",
        type=int,
        default=10000,
        help="largest size for the slow spaCy tokenizers (default, spacy_xx)",
    )
    parser.add_argument("--dup-share", type=float, default=0.1)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--before", type=Path, help="an earlier checkout: its near_dedupe runs in the same run")
    parser.add_argument("--before-max", type=int, default=300_000, help="largest size for --before")
    parser.add_argument(
        "--out", default=str(Path(__file__).with_name("RESULTS-dedupe.md")), help="markdown file, or - for stdout only"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dt_sizes = {int(s) for s in args.datatrove_sizes.split(",") if s}
    options = NearDedupeOptions(workers=args.cores)
    unverified = options.model_copy(update={"threshold": 0.0})  # every LSH candidate pair counts
    rows: list[Row] = []
    root = Path(__file__).resolve().parents[1]
    for n in sizes:
        t0 = time.perf_counter()
        corpus = corpus_file(n, args.dup_share, args.seed)
        texts, group = read_corpus(corpus)
        print(f"# {n} episodes ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
        runs = [("near_dedupe", root, options), ("near_dedupe, no verification", root, unverified)]
        if args.before and n <= args.before_max:
            runs.append(("near_dedupe (before)", args.before.resolve(), options))
        for tool, code, opts in runs:
            dropped, seconds, peak = run_near_dedupe(code, corpus, opts)
            rows.append(Row(n, tool, seconds, *score(dropped, group), note=f"load {os.getloadavg()[0]:.1f}", peak=peak))
            print(_fmt(rows[-1]), file=sys.stderr, flush=True)
        if n in dt_sizes:
            for config in args.datatrove_configs.split(","):
                for tok in args.datatrove_tokenizers.split(","):
                    if tok != "split" and n > args.datatrove_slow_max:
                        continue
                    with tempfile.TemporaryDirectory(prefix="dtbench") as tmp:
                        dropped, seconds = run_datatrove(texts, tok, args.cores, Path(tmp) / "w", config)
                    tool = f"datatrove ({tok})" if config == "default" else f"datatrove ({tok}, {config} 3-gram 32x4)"
                    rows.append(Row(n, tool, seconds, *score(dropped, group), note=f"load {os.getloadavg()[0]:.1f}"))
                    print(_fmt(rows[-1]), file=sys.stderr, flush=True)
    report = render(rows, args, options)
    print(report)
    if args.out != "-":
        Path(args.out).write_text(report)


def _fmt(r: Row) -> str:
    peak = f" peak +{r.peak / 2**20:,.0f} MB" if r.peak is not None else ""
    return (
        f"{r.size:>7} {r.tool:<22} {r.seconds:8.2f}s {r.docs_per_s:9.0f} docs/s recall {r.recall:.3f} "
        f"precision {r.precision:.3f} dropped {r.dropped}{peak} ({r.note})"
    )


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
        f"Machine: {machine()}. Both tools limited to {args.cores} cores. "
        f"rapidfuzz {rapidfuzz.__version__}, datatrove {dt_version}.",
        f"Command: `python {' '.join(sys.argv)}`",
        "The machine is shared; the load average (1 min) after each run is in the last column.",
        f"Corpus: synthetic computer-use episodes (`make_corpus`, seed {args.seed}; above 100k, independent 100k "
        f"corpora), {args.dup_share:.0%} planted near-duplicates; text = `Episode.text()`.",
        f"near_dedupe options: {options.model_dump()}.",
        "near_dedupe runs in a fresh process on the texts; peak RSS is above the process with the texts loaded.",
        "datatrove: `MinhashConfig` default (5-grams, 14 buckets x 8 hashes) or set to near_dedupe's 3-grams and "
        "32 x 4 bands; all four stages, JSONL input on disk.",
        "",
        "| episodes | tool | seconds | docs/s | recall | precision | dropped | peak RSS above texts | load |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        peak = f"{r.peak / 2**20:,.0f} MB" if r.peak is not None else "-"
        lines.append(
            f"| {r.size:,} | {r.tool} | {r.seconds:.2f} | {r.docs_per_s:,.0f} | {r.recall:.3f} | {r.precision:.3f} "
            f"| {r.dropped:,} | {peak} | {r.note.removeprefix('load ')} |"
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
