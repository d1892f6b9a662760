"""Frame change detection on real Chromium frames: a short typed word is a change (its text gets
read), a blinking caret is not (the earlier words are reused); the OCR cache is private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from toolbox.ocr_engines.changes import changed_spans, gray, vertical_shift
from toolbox.ocr_engines.runner import OcrRequest, OcrRunner, OcrSettings

# An app window: a form with 12-14 px fields, a caret (a 1 px bar, as browsers and GTK draw it)
# and a terminal with a block cursor. Each state is one screenshot of the same page.
PAGE = """<!doctype html><html><body style="margin:0;font-family:'DejaVu Sans',sans-serif;background:#fff;color:#202124">
<div style="padding:16px 24px">
  <div style="font-size:16px;font-weight:bold;margin-bottom:10px">Experiment tracker</div>
  <div style="font-size:12px;margin:6px 0">Name: <span id="f12">run-0042</span><span id="caret"
     style="display:inline-block;width:1px;height:14px;background:#000;vertical-align:text-bottom;visibility:hidden"></span></div>
  <div style="font-size:13px;margin:6px 0">Filter: <span id="f13">status finished</span></div>
  <div style="font-size:14px;margin:6px 0">Search: <span id="f14">llama runs</span></div>
  <div style="font-size:13px;margin:6px 0;color:#555">Last saved 3 minutes ago by Dana Whitfield.</div>
  <pre style="margin-top:12px;padding:8px;background:#1e1e1e;color:#e6e6e6;font-size:14px;font-family:'DejaVu Sans Mono',monospace;width:520px">$ python train.py --epochs 3
$ <span id="term"></span><span id="block" style="background:#1e1e1e">&nbsp;</span></pre>
</div></body></html>"""

# (element, text appended, font size): short words, narrow letters included ("il", "ls").
TYPED = [("f12", " ok", 12), ("f12", " il", 12), ("f13", " ls", 13), ("f14", " cd", 14), ("term", "pwd", 14)]


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("frames")
    out: dict[str, Path] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 640, "height": 300})
        page.set_content(PAGE)

        def shot(name: str) -> None:
            out[name] = folder / f"{name}.png"
            page.screenshot(path=str(out[name]))

        shot("base")
        shot("again")  # rendered again, nothing changed
        page.evaluate("document.getElementById('caret').style.visibility = 'visible'")
        shot("caret")
        page.evaluate("document.getElementById('caret').style.visibility = 'hidden'")
        page.evaluate("document.getElementById('block').style.background = '#e6e6e6'")
        shot("block_cursor")
        page.evaluate("document.getElementById('block').style.background = '#1e1e1e'")
        for element, text, _size in TYPED:
            page.evaluate(f"document.getElementById('{element}').textContent += '{text}'")
            shot(f"typed_{element}_{text.strip()}")
            page.evaluate(
                f"document.getElementById('{element}').textContent = "
                f"document.getElementById('{element}').textContent.slice(0, -{len(text)})"
            )
        browser.close()
    return out


def pixels(path: Path) -> np.ndarray:
    return gray(Image.open(path))


def test_identical_and_caret_blink_frames_are_unchanged(frames):
    base = pixels(frames["base"])
    for name in ("again", "caret", "block_cursor"):
        other = pixels(frames[name])
        if name != "again":
            assert (other != base).any(), f"{name}: the cursor was not drawn; the test would prove nothing"
        assert changed_spans(base, other) == [], name


@pytest.mark.parametrize("element,text,size", TYPED, ids=[f"{t.strip()}@{s}px" for _, t, s in TYPED])
def test_a_short_typed_word_is_a_change_on_its_line(frames, element, text, size):
    base = pixels(frames["base"])
    typed = pixels(frames[f"typed_{element}_{text.strip()}"])
    rows = np.flatnonzero((np.abs(base.astype(int) - typed) > 24).any(axis=1))  # where the word is
    spans = changed_spans(base, typed)
    assert spans, f"{text!r} at {size} px was taken for an unchanged frame"
    assert any(y0 <= rows.min() and rows.max() < y1 for y0, y1 in spans)
    assert sum(y1 - y0 for y0, y1 in spans) < base.shape[0] / 3  # only the lines around it


def test_the_runner_reads_the_typed_word_and_reuses_words_across_a_caret_blink(frames, tmp_path):
    order = [frames["base"], frames["caret"], frames["typed_f14_cd"], frames["typed_f12_ok"]]
    requests = [OcrRequest(str(p)) for p in order]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path / "cache")
    out = runner.read(requests, problem=pytest.fail)
    stats = runner.stats
    assert (stats.near_duplicates, stats.read) == (1, 3)
    assert stats.partial == 2  # the typed frames: only the changed lines were read again
    base, caret, cd, ok = (out[r] for r in requests)
    assert caret == base
    for name, words, typed in (("typed_f14_cd", cd, "cd"), ("typed_f12_ok", ok, "ok")):
        texts = [w.text for w in words]
        assert typed in texts, texts
        # words outside the changed lines are the earlier frame's, unchanged (not read again)
        spans = changed_spans(pixels(frames["base"]), pixels(frames[name]))

        def outside(word, spans=spans) -> bool:
            middle = (word.box[1] + word.box[3]) / 2
            return not any(y0 <= middle < y1 for y0, y1 in spans)

        assert [w for w in words if outside(w)] == [w for w in base if outside(w)]
        kept = {w.text for w in words if outside(w)}
        assert {"Experiment", "tracker"} <= kept and len(kept) >= 8, kept
    # the same frames read whole give the same words on the re-read lines
    whole = OcrRunner(OcrSettings(engine="tesseract", workers=1, reuse=False), cache_dir=None)
    alone = whole.read([requests[2]], problem=pytest.fail)[requests[2]]
    assert [w.text for w in alone if w.text in ("Search:", "llama", "runs", "cd")] == [
        w.text for w in cd if w.text in ("Search:", "llama", "runs", "cd")
    ]


LOG = [f"step {n * 100} loss {2.5 - n * 0.037:.3f} lr 2e-5 batch {n % 7}" for n in range(1, 27)]


def screenshots(folder: Path, size: tuple[int, int], pages: list[str]) -> tuple[Path, ...]:
    """Each HTML page as Chromium shows it in a viewport of `size`: before.png, after.png, ..."""
    paths = tuple(folder / name for name in ("before.png", "after.png", "later.png")[: len(pages)])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        for path, html in zip(paths, pages):
            page.set_content(html)
            page.screenshot(path=str(path))
        browser.close()
    return paths


@pytest.fixture(scope="module")
def scrolled(tmp_path_factory) -> tuple[Path, ...]:
    """A terminal before and after three new log lines scrolled the oldest three out of view."""
    pages = [
        "<body style='margin:0;background:#1e1e1e'><pre style=\"margin:0;padding:6px 10px;color:#e6e6e6;"
        f"font:14px/20px 'DejaVu Sans Mono',monospace\">{chr(10).join(lines)}</pre></body>"
        for lines in (LOG[:20], LOG[3:23])
    ]
    return screenshots(tmp_path_factory.mktemp("scroll"), (560, 420), pages)


def test_after_a_scroll_only_the_new_lines_are_read(scrolled):
    before, after = scrolled
    assert vertical_shift(pixels(before), pixels(after)) == 60  # three lines of 20 px
    requests = [OcrRequest(str(before)), OcrRequest(str(after))]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=None)
    words = runner.read(requests, problem=pytest.fail)[requests[1]]
    assert (runner.stats.partial, runner.stats.scrolled) == (1, 1)
    texts = " ".join(w.text for w in words)
    assert all(n in texts for n in ("1.723", "1.686", "1.649"))  # the new lines 21-23, read
    assert not any(n in texts for n in ("2.463", "2.426", "2.389"))  # lines 1-3 scrolled out
    # the kept words sit where a whole read finds them
    whole = OcrRunner(OcrSettings(engine="tesseract", workers=1, reuse=False), cache_dir=None)
    read_whole = whole.read(requests[1:], problem=pytest.fail)[requests[1]]
    unique = {w.text: w for w in read_whole if [x.text for x in read_whole].count(w.text) == 1}
    common = [
        (w, unique[w.text]) for w in words if w.text in unique and len(w.text) >= 3 and w.text.isdigit()
    ]  # step numbers
    assert len(common) >= 15
    for moved, fresh in common:
        assert moved.box == pytest.approx(fresh.box, abs=3), moved.text
        assert moved.mid == pytest.approx(fresh.mid, abs=0.01)


@pytest.fixture(scope="module")
def scrolled_under_title(tmp_path_factory) -> tuple[Path, ...]:
    """A window whose title bar stays while its log scrolls up by five lines."""
    pages = [
        "<body style='margin:0;background:#fff'><div style=\"background:#d8d8dc;color:#111;"
        "font:14px 'DejaVu Sans',sans-serif;padding:8px 10px\">Training log - Editor</div>"
        '<pre style="margin:0;padding:6px 10px;color:#202124;'
        f"font:14px/20px 'DejaVu Sans Mono',monospace\">{chr(10).join(lines)}</pre></body>"
        for lines in (LOG[:20], LOG[5:25])
    ]
    return screenshots(tmp_path_factory.mktemp("scroll_title"), (560, 460), pages)


def test_a_title_bar_that_stays_while_the_content_scrolls_keeps_its_words(scrolled_under_title):
    before, after = (str(p) for p in scrolled_under_title)
    requests = [OcrRequest(before), OcrRequest(after)]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=None)
    out = runner.read(requests, problem=pytest.fail)
    assert (runner.stats.partial, runner.stats.scrolled) == (1, 1)
    title = [w for w in out[requests[0]] if w.text in ("Training", "log", "Editor")]
    assert len(title) == 3
    in_title = [[w for w in out[r] if w.box[3] <= title[0].box[3] + 4] for r in requests]
    assert in_title[1] == in_title[0]  # not moved, nor read again
    texts = " ".join(w.text for w in out[requests[1]])
    assert all(n in texts for n in ("2100", "2200", "2300", "2400", "2500"))  # the lines that scrolled in
    assert not any(f"step {n}00 " in texts + " " for n in range(1, 6))  # the ones that scrolled out


def test_the_ocr_cache_is_private(frames, tmp_path):
    old = os.umask(0o002)  # a permissive umask must not leak into the cache
    try:
        cache = tmp_path / "cache"
        runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=cache)
        runner.read([OcrRequest(str(frames["base"])), OcrRequest(str(frames["typed_f14_cd"]))], problem=pytest.fail)
    finally:
        os.umask(old)
    root = cache / "ocr"
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(folders) >= 2 and len(files) >= 3  # two frames and one re-read band
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in folders), [oct(p.stat().st_mode) for p in folders]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), [oct(p.stat().st_mode) for p in files]


def test_an_old_cache_folder_is_made_private(tmp_path):
    root = tmp_path / "cache" / "ocr"
    root.mkdir(parents=True, mode=0o755)
    os.chmod(root, 0o755)
    OcrRunner(OcrSettings(engine="tesseract"), cache_dir=tmp_path / "cache")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_a_copy_of_a_recent_frame_takes_its_words_without_being_decoded(frames, tmp_path, monkeypatch):
    """A recorder writes the same bytes for an unchanged screen: such a frame (a copy here) gets the
    words of the frame it copies, and is neither decoded nor compared again."""
    copy = tmp_path / "copy.png"
    copy.write_bytes(frames["typed_f14_cd"].read_bytes())
    order = [frames["base"], frames["typed_f14_cd"], frames["caret"], copy]
    requests = [OcrRequest(str(p)) for p in order]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=None)
    decoded: list[str] = []
    decode = runner._decode
    monkeypatch.setattr(
        runner, "_decode", lambda request, problem: (decoded.append(request.path), decode(request, problem))[1]
    )
    out = runner.read(requests, problem=pytest.fail)
    assert decoded == [str(p) for p in order[:3]]  # not the copy
    assert out[requests[3]] == out[requests[1]] and "cd" in [w.text for w in out[requests[3]]]
    assert runner.stats.near_duplicates == 2  # the caret blink and the copy


# -- lines read earlier in the session (lines.py) -----------------------------------------------


def log_page(lines: list[str]) -> str:
    return (
        "<body style='margin:0;background:#fff'><pre style=\"margin:0;padding:6px 10px;color:#202124;"
        f"font:14px/20px 'DejaVu Sans Mono',monospace\">{chr(10).join(lines)}</pre></body>"
    )


@pytest.fixture(scope="module")
def scrolled_back(tmp_path_factory) -> tuple[Path, ...]:
    """A log at its top, scrolled down by six lines, back up to the top, and (another time) back up
    to a top where one line's loss lost its last digit."""
    log = [f"step {n * 100} loss {2.5 - n * 0.037:.3f} lr 2e-5 batch {n % 7}" for n in range(1, 31)]
    changed = [*log[:4], log[4].replace("2.315", "2.31"), *log[5:]]
    pages = [log_page(lines) for lines in (log[:20], log[6:26], log[:20], changed[:20])]
    folder = tmp_path_factory.mktemp("scroll_back")
    paths = tuple(folder / f"{name}.png" for name in ("top", "down", "back", "back_changed"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 560, "height": 420})
        for path, html in zip(paths, pages):
            page.set_content(html)
            page.screenshot(path=str(path))
        browser.close()
    return paths


def rows_read(runner: OcrRunner, monkeypatch) -> list[list[int]]:
    """Per frame the runner decodes from now on: the heights of the images the engine is handed."""
    import toolbox.ocr_engines.runner as runner_module

    frames: list[list[int]] = []
    read, decode = runner_module.read_pixels, runner._decode

    def counted(engine, pixels, *args):
        frames[-1].append(pixels.shape[0])
        return read(engine, pixels, *args)

    monkeypatch.setattr(runner_module, "read_pixels", counted)
    monkeypatch.setattr(runner, "_decode", lambda *args: (frames.append([]), decode(*args))[1])
    return frames


@pytest.mark.parametrize("line_memory", [2048, 0])
def test_lines_that_scroll_back_into_view_take_the_words_read_before(scrolled_back, monkeypatch, line_memory):
    """With a frame history of one (as after a few other frames), the top of the log scrolling back
    is compared only with the frame scrolled down: its six lines are found among the lines read in
    the first frame and not read again, and the frame gets the words the first read found there."""
    top, down, back, _ = (str(p) for p in scrolled_back)
    requests = [OcrRequest(top), OcrRequest(down), OcrRequest(back)]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1, history=1, line_memory=line_memory), None)
    reads = rows_read(runner, monkeypatch)
    out = runner.read(requests, problem=pytest.fail)
    assert runner.stats.scrolled == 2
    if line_memory:
        assert runner.stats.lines_reused >= 6
        assert sum(reads[2]) <= 20  # at most a line's height read for the third frame
    else:
        assert runner.stats.lines_reused == 0 and sum(reads[2]) >= 120  # six lines of 20 px, read again
    first, third = out[requests[0]], out[requests[2]]
    assert [w.text for w in third] == [w.text for w in first]
    for a, b in zip(third, first):
        assert a.box == pytest.approx(b.box, abs=2) and a.mid == pytest.approx(b.mid, abs=0.002)


def test_a_line_that_differs_by_one_digit_is_read_again(scrolled_back, monkeypatch):
    top, down, back, changed = (str(p) for p in scrolled_back)
    requests = [OcrRequest(top), OcrRequest(down), OcrRequest(changed)]
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1, history=1), None)
    reads = rows_read(runner, monkeypatch)
    out = runner.read(requests, problem=pytest.fail)
    assert 20 <= sum(reads[2]) <= 40  # that line (20 px), not the five found around it
    texts = [w.text for w in out[requests[2]]]
    assert "2.31" in texts and "2.315" not in texts
    assert texts.count("loss") == 20


def test_a_line_is_found_again_through_compression_noise_but_not_with_another_letter():
    """WebP moves the pixels of a line drawn 7 rows lower by up to a quarter of its contrast; a
    different letter or digit moves some by more than half."""
    from io import BytesIO

    from PIL import ImageDraw, ImageFont

    from toolbox.ocr_engines.lines import LineMemory, LineRef, cut_lines, line_print

    font = ImageFont.truetype("DejaVuSans.ttf", 14)

    def line(text: str, top: int) -> np.ndarray:
        image = Image.new("L", (400, 120), 255)
        ImageDraw.Draw(image).text((16, top), text, fill=20, font=font)
        buffer = BytesIO()
        image.save(buffer, "WEBP", quality=48)
        pixels = gray(Image.open(buffer))
        (found,) = cut_lines(pixels)
        return line_print(pixels[found.ink[0] : found.ink[1]])

    memory = LineMemory(16)
    for n, text in enumerate(["epoch 12 loss 0.53 eval", "run 1834 finished", "checkpoint l"]):
        memory.add(LineRef(f"read{n}", 0, 400, 40, (30, 60)), line(text, 40))
    assert memory.find(line("epoch 12 loss 0.53 eval", 47)).key == "read0"
    assert memory.find(line("run 1834 finished", 33)).key == "read1"
    for other in ("epoch 12 loss 0.58 eval", "run 1884 finished", "checkpoint I", "epoch 12 loss 0.53 evaI"):
        assert memory.find(line(other, 47)) is None, other


def test_the_line_memory_forgets_its_oldest_lines_past_its_size_and_bytes(monkeypatch):
    import toolbox.ocr_engines.lines as lines_module
    from toolbox.ocr_engines.lines import LineMemory, LineRef, line_print

    rng = np.random.default_rng(0)
    drawn = [line_print(rng.integers(0, 256, (14, 300), dtype=np.uint8)) for _ in range(4)]
    memory = LineMemory(3)
    for n, pixels in enumerate(drawn):
        memory.add(LineRef(f"read{n}", 0, 300, 0, (0, 14)), pixels)
    assert memory.find(drawn[0]) is None  # the oldest, past 3 lines
    assert [memory.find(p).key for p in drawn[1:]] == ["read1", "read2", "read3"]
    monkeypatch.setattr(lines_module, "MAX_BYTES", 2 * drawn[0].pixels.nbytes)
    memory = LineMemory(3)
    for n, pixels in enumerate(drawn[:3]):
        memory.add(LineRef(f"read{n}", 0, 300, 0, (0, 14)), pixels)
    assert memory.find(drawn[0]) is None and memory.find(drawn[2]).key == "read2"
    tall = line_print(rng.integers(0, 256, (lines_module.MAX_LINE_ROWS + 1, 300), dtype=np.uint8))
    memory.add(LineRef("tall", 0, 300, 0, (0, 200)), tall)
    assert memory.find(tall) is None  # a block of pictures, not a line: not kept


def test_lines_are_found_again_within_one_read_only(scrolled_back):
    """A session's words never depend on what its OCR process read before (another session, on
    the same worker): lines read in an earlier `read` are not found again."""
    top, down, back, _ = (str(p) for p in scrolled_back)
    later = [OcrRequest(down), OcrRequest(back)]
    fresh = OcrRunner(OcrSettings(engine="tesseract", workers=1, history=1), None)
    alone = fresh.read(later, problem=pytest.fail)
    used = OcrRunner(OcrSettings(engine="tesseract", workers=1, history=1), None)
    used.read([OcrRequest(top)], problem=pytest.fail)  # the top of the log, in another session
    after = used.read(later, problem=pytest.fail)
    assert used.stats.lines_reused == fresh.stats.lines_reused
    assert after == alone
