"""Near-duplicate removal: MinHash LSH blocking on word shingles, rapidfuzz verification.

No all-pairs loop. Every text is cut into words (ASCII case folded, split at whitespace and
punctuation) and each word hashed, all in numpy over one byte buffer. Texts with the same words
in the same order are folded onto their first copy; the others get a MinHash signature over
word n-grams (threads over chunks), and texts that share a band of the signature become
candidate pairs. Only candidate pairs are scored, with rapidfuzz `process.cpdist` (C++
threads) on the lower-cased, whitespace-collapsed texts; pairs scoring at least `threshold`
are joined with union-find. The first episode of each cluster (in input order) is kept; the
others are dropped with a reason naming it (a chain a~b~c drops c as a duplicate of a).

Memory stays bounded: texts are hashed `CHUNK` at a time, and of each text only a sequence key
and one 64-bit key per band are kept (264 bytes with 32 bands); the texts are asked for again
only for the candidate pairs' verification (the filter makes an episode's text when asked).

The result depends only on the input and the options (seeded hashes, sorted pair lists),
never on the worker count or on timing.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from rapidfuzz import fuzz, process

from toolbox.core.filter import Dropped, Filter
from toolbox.core.models import Episode
from toolbox.core.plugin import Options as BaseOptions
from toolbox.core.registry import register_filter

SCORERS = {
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "token_ratio": fuzz.token_ratio,
    "WRatio": fuzz.WRatio,
    "QRatio": fuzz.QRatio,
}


class NearDedupeOptions(BaseOptions):
    threshold: float = Field(
        90.0, ge=0, le=100, description="rapidfuzz similarity (0-100) at or above which two episodes are duplicates"
    )
    scorer: Literal[
        "ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio", "token_ratio", "WRatio", "QRatio"
    ] = "ratio"
    ngram: int = Field(3, ge=1, le=10, description="words per shingle")
    bands: int = Field(32, ge=1, description="LSH bands; more bands find more candidates")
    rows: int = Field(4, ge=1, le=16, description="MinHash values per band; more rows, fewer (stricter) candidates")
    window: int = Field(
        32, ge=1, description="in a crowded LSH bucket, compare each episode with the next `window` members only"
    )
    seed: int = 0
    workers: int = Field(-1, description="threads for hashing and scoring; -1 = all cores")

    @model_validator(mode="after")
    def _workers(self) -> NearDedupeOptions:
        if self.workers == 0 or self.workers < -1:
            raise ValueError("workers must be -1 (all cores) or a positive number")
        return self


@register_filter("near_dedupe")
class NearDedupe(Filter):
    """Drop near-duplicate episodes (MinHash LSH candidates verified with rapidfuzz); keeps the first."""

    Options = NearDedupeOptions
    options: NearDedupeOptions

    def apply(self, episodes: Iterator[Episode]) -> Iterator[Episode | Dropped]:
        batch = list(episodes)
        keep_of = near_duplicate_clusters(EpisodeTexts(batch), self.options)
        for i, episode in enumerate(batch):
            root = keep_of[i]
            if root == i:
                yield episode
            else:
                yield Dropped(episode, self.plugin_name, "near duplicate", f"of {batch[root].id}")


class EpisodeTexts(Sequence[str]):
    """The texts of episodes, each made when asked for (hashing, then verifying a candidate),
    so that they are never all in memory at once."""

    def __init__(self, episodes: list[Episode]) -> None:
        self.episodes = episodes

    def __len__(self) -> int:
        return len(self.episodes)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # (no slices: not needed)
        return self.episodes[i].text()


def normalize(text: str) -> str:
    """Lower case, whitespace runs collapsed to one space, trimmed."""
    return " ".join(text.lower().split())


CHUNK = 20_000  # texts hashed at a time (word and shingle arrays of about 60 MB for typical episodes)


def near_duplicate_clusters(texts: Sequence[str], options: NearDedupeOptions | None = None) -> list[int]:
    """For each text, the index of the text kept for its cluster (itself if kept)."""
    opts = options or NearDedupeOptions()
    workers = (os.cpu_count() or 1) if opts.workers == -1 else opts.workers
    n = len(texts)
    parent = list(range(n))
    if n < 2:
        return parent
    key = np.empty(n, dtype=np.uint64)  # words and their order
    bands = np.empty((n, opts.bands), dtype=np.uint64)  # the LSH band keys of each text's MinHash signature
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        words, counts = token_hashes([texts[i] for i in range(lo, hi)], workers)
        key[lo:hi] = sequence_keys(words, counts)
        shingles, offsets = shingle_hashes(words, counts, opts.ngram, opts.seed)
        del words
        bands[lo:hi] = band_keys(minhash_signatures(shingles, offsets, opts, workers, first=lo), opts)

    # texts with the same words in the same order: only the first goes through LSH; each copy
    # is compared with the first and with the previous copy
    order = np.lexsort((np.arange(n), key))
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = key[order[1:]] != key[order[:-1]]
    copies = ~new_group
    group_first = order[np.flatnonzero(new_group)][np.cumsum(new_group) - 1]
    pairs = [np.stack([group_first[copies], order[copies]]), np.stack([order[:-1][copies[1:]], order[1:][copies[1:]]])]
    del key, order, new_group, copies, group_first

    reps = np.sort(np.flatnonzero(_firsts(pairs, n)))
    if len(reps) > 1:
        left, right = candidate_pairs(bands[reps], opts)
        pairs.append(np.stack([reps[left], reps[right]]))
    del bands
    both = np.concatenate(pairs, axis=1)
    both = np.unique(both[0] * n + both[1])  # sorted, so the scores do not depend on anything else
    left, right = both // n, both % n
    if len(left):
        norm = {i: normalize(texts[i]) for i in np.unique(np.concatenate([left, right])).tolist()}
        scores = process.cpdist(
            [norm[i] for i in left.tolist()],
            [norm[j] for j in right.tolist()],
            scorer=SCORERS[opts.scorer],
            score_cutoff=opts.threshold,
            workers=workers,
        )
        hit = scores >= opts.threshold
        _union_all(parent, left[hit].tolist(), right[hit].tolist())
    return [_find(parent, i) for i in range(n)]


def _firsts(copy_pairs: list[np.ndarray], n: int) -> np.ndarray:
    """Per text: True unless it is a later copy (the right side of a copy pair)."""
    first = np.ones(n, dtype=bool)
    for pair in copy_pairs:
        first[pair[1]] = False
    return first


def sequence_keys(words: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A 64-bit key per text that depends on its words and their order (and the word count)."""
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    position = np.arange(len(words), dtype=np.uint64) - np.repeat(starts, counts).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix64(words ^ (position * np.uint64(0x9E3779B97F4A7C15)))
        sums = np.zeros(len(counts), dtype=np.uint64)
        nonempty = counts > 0
        if len(words):
            sums[nonempty] = np.add.reduceat(mixed, starts[nonempty])
        return _splitmix64(sums ^ counts.astype(np.uint64))


def _find(parent: list[int], i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def _union_all(parent: list[int], left: Iterable[int], right: Iterable[int]) -> None:
    """Join pairs; the smaller index (the earlier episode) always becomes the root."""
    for a, b in zip(left, right):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A fast, well-mixing 64-bit hash (in place on a uint64 array)."""
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


# ASCII whitespace and punctuation become spaces, ASCII capitals small; other bytes (UTF-8 of
# other scripts) are word bytes as they are
_TABLE = bytes(32 if c <= 32 or chr(c) in string.punctuation else c + 32 if 65 <= c <= 90 else c for c in range(256))
_BASE = np.uint64(0x100000001B3)
_BASE_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))


def token_hashes(texts: list[str], workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every word of every text, concatenated, and the word count per text.

    Vectorized: the texts are joined into one byte buffer, word boundaries found with numpy,
    and each word hashed as a polynomial over its bytes from prefix sums (mod 2**64), so no
    Python object is made per word. Words are ASCII-case-folded and split at punctuation."""
    encoded = [t.encode() for t in texts]
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    chars = np.frombuffer(b" ".join(encoded).translate(_TABLE), dtype=np.uint8)
    del encoded
    text_start = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(sizes[:-1] + 1, out=text_start[1:])
    edge = np.diff((chars != 32).view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    del edge
    hashes = np.empty(len(starts), dtype=np.uint64)
    # slices of whole words of about 4 MB, to bound memory; B**k and B**-k are shared by all
    cuts = [0]
    while cuts[-1] < len(starts):
        nxt = int(np.searchsorted(starts, starts[cuts[-1]] + (1 << 22), side="left"))
        cuts.append(max(nxt, cuts[-1] + 1))
    spans = list(zip(cuts, cuts[1:]))
    longest = max((int(ends[b - 1] - starts[a]) for a, b in spans), default=0)
    with np.errstate(over="ignore"):
        powers = np.full(longest + 1, _BASE, dtype=np.uint64)
        powers[0] = 1
        np.cumprod(powers, out=powers)
        inverse = np.full(longest + 1, _BASE_INV, dtype=np.uint64)
        inverse[0] = 1
        np.cumprod(inverse, out=inverse)

    def run(span: tuple[int, int]) -> None:
        a, b = span
        lo, hi = int(starts[a]), int(ends[b - 1])
        prefix = np.zeros(hi - lo + 1, dtype=np.uint64)
        with np.errstate(over="ignore"):
            np.cumsum(chars[lo:hi] * powers[: hi - lo], out=prefix[1:])
            s, e = starts[a:b] - lo, ends[a:b] - lo
            hashes[a:b] = (prefix[e] - prefix[s]) * inverse[s]

    _map(run, spans, workers)
    counts = np.bincount(np.searchsorted(text_start, starts, side="right") - 1, minlength=len(texts))
    return _splitmix64(hashes), counts.astype(np.int64)


def _map(fn: Callable[[tuple[int, int]], None], spans: list[tuple[int, int]], workers: int) -> None:
    """Run `fn` on every span, on threads (numpy lets go of the GIL in its loops)."""
    if workers > 1 and len(spans) > 1:
        with ThreadPoolExecutor(min(workers, len(spans))) as pool:
            list(pool.map(fn, spans))
    else:
        for span in spans:
            fn(span)


def shingle_hashes(words: np.ndarray, lengths: np.ndarray, ngram: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every word n-gram of every text (given its word hashes and word
    counts), concatenated, and the offset of each text's first shingle (len(lengths) + 1).
    A text shorter than `ngram` words has one shingle of all its words; an empty one none."""
    tokens = _splitmix64(words ^ np.uint64(seed))
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    total = int(starts[-1])
    end_of = np.repeat(starts[1:], lengths)  # for each word, the end of its text
    pos = np.arange(total, dtype=np.int64)
    h = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            shifted = np.zeros(total, dtype=np.uint64)
            shifted[: total - k] = tokens[k:]
            shifted[pos + k >= end_of] = 0  # past the end of the text
            h = h * _BASE + shifted
    h = _splitmix64(h)
    # a shingle starts at every position with `ngram` words left, or at a short text's start
    valid = (pos + ngram <= end_of) | ((pos == np.repeat(starts[:-1], lengths)) & (np.repeat(lengths, lengths) < ngram))
    counts = np.where(lengths >= ngram, lengths - ngram + 1, np.minimum(lengths, 1))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return (h[valid] >> np.uint64(32)).astype(np.uint32), offsets


def minhash_signatures(
    shingles: np.ndarray, offsets: np.ndarray, opts: NearDedupeOptions, workers: int, first: int = 0
) -> np.ndarray:
    """(texts, bands * rows) uint32 MinHash signatures from shingle hashes and per-text
    offsets; texts without shingles get signatures no other text can share (made from their
    index, `first` being the index of the first text given)."""
    k = opts.bands * opts.rows
    rng = np.random.default_rng(opts.seed)
    a = (rng.integers(0, 2**32, size=k, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
    b = rng.integers(0, 2**32, size=k, dtype=np.uint64).astype(np.uint32)
    n = len(offsets) - 1
    sig = np.empty((n, k), dtype=np.uint32)
    empty = np.diff(offsets) == 0
    nonempty = np.flatnonzero(~empty)

    # spans of whole texts of about `per_chunk` shingles; each writes its own rows of `sig`
    per_chunk = max(1, (1 << 22) // k)
    cum = offsets[1:][nonempty]
    bounds = [0]
    while bounds[-1] < len(nonempty):
        target = int(offsets[nonempty[bounds[-1]]]) + per_chunk
        nxt = int(np.searchsorted(cum, target, side="right"))
        bounds.append(min(max(nxt, bounds[-1] + 1), len(nonempty)))

    def run(span: tuple[int, int]) -> None:
        docs = nonempty[span[0] : span[1]]
        lo, hi = int(offsets[docs[0]]), int(offsets[docs[-1] + 1])
        with np.errstate(over="ignore"):  # one row per hash function: the reduction runs along rows
            vals = a[:, None] * shingles[None, lo:hi]
            vals += b[:, None]
        sig[docs] = np.minimum.reduceat(vals, offsets[docs] - lo, axis=1).T

    _map(run, list(zip(bounds[:-1], bounds[1:])), workers)
    if empty.any():  # no words: a signature no other text can share
        idx = (np.flatnonzero(empty) + first).astype(np.uint64)
        sig[empty] = (
            _splitmix64(idx[:, None] * np.uint64(k) + np.arange(k, dtype=np.uint64)[None, :]) >> np.uint64(32)
        ).astype(np.uint32)
    return sig


def band_keys(sig: np.ndarray, opts: NearDedupeOptions) -> np.ndarray:
    """(texts, bands) uint64: one key per band of each signature (a hash of its `rows` values)."""
    keys = np.empty((sig.shape[0], opts.bands), dtype=np.uint64)
    for band in range(opts.bands):
        keys[:, band] = _band_key(sig[:, band * opts.rows : (band + 1) * opts.rows])
    return keys


def candidate_pairs(keys: np.ndarray, opts: NearDedupeOptions) -> tuple[np.ndarray, np.ndarray]:
    """Unique (i, j), i < j, of texts sharing at least one LSH band key, sorted. In a bucket, each
    text is paired with the next `window` members (all pairs when the bucket is small)."""
    n = keys.shape[0]
    found: list[np.ndarray] = []
    idx = np.arange(n, dtype=np.int64)
    for band in range(keys.shape[1]):
        key = keys[:, band]
        order = np.lexsort((idx, key))  # by key, then by index: pairs come out as (earlier, later)
        sk = key[order]
        for d in range(1, min(opts.window, n - 1) + 1):
            same = np.flatnonzero(sk[:-d] == sk[d:])
            if not len(same):
                break  # no bucket has more than d members
            found.append(order[same] * n + order[same + d])
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = np.unique(np.concatenate(found))
    return pairs // n, pairs % n


def _band_key(cols: np.ndarray) -> np.ndarray:
    """One uint64 per row of a band (a hash of its values)."""
    h = np.zeros(cols.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(cols.shape[1]):
            h = _splitmix64(h ^ cols[:, c].astype(np.uint64))
    return h
