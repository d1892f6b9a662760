"""OCR engines and the runner on a real Chromium screenshot: words, boxes, cache, near duplicates, pool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from toolbox.ocr_engines.runner import OcrRequest, OcrRunner, OcrSettings

PAGE = """<!doctype html><html><body style="margin:0;font-family:'DejaVu Sans',sans-serif;background:#fff">
<div style="padding:16px 24px;font-size:14px">
  <h2 style="font-size:20px;margin:0 0 12px">Experiment tracker</h2>
  <button style="font-size:14px">Search runs</button> <button style="font-size:14px">Export table</button>
  <table style="margin-top:16px;font-size:14px;border-collapse:collapse" border="1" cellpadding="6">
    <tr><th>Run</th><th>Status</th><th>Loss</th></tr>
    <tr><td>alpaca</td><td>finished</td><td>1.73</td></tr>
    <tr><td>vicuna</td><td>failed</td><td>2.41</td></tr>
  </table>
</div>
<pre style="position:absolute;left:560px;top:40px;width:400px;padding:12px;background:#111;color:#eee;font-size:14px;font-family:'DejaVu Sans Mono',monospace">$ python train.py --epochs 3
epoch 1 loss 2.10
epoch 2 loss 1.84</pre>
</body></html>"""
WORDS = re.findall(
    r"[A-Za-z0-9.$-]+",
    "Experiment tracker Search runs Export table Run Status Loss alpaca finished 1.73 "
    "vicuna failed 2.41 $ python train.py --epochs 3 epoch 1 loss 2.10 epoch 2 loss 1.84",
)
TERMINAL = (560, 40, 1000, 160)  # x0, y0, x1, y1 of the terminal block on the page


def chromium_screenshot(html: str, out: Path, size: tuple[int, int] = (1024, 400)) -> Path:
    page = out.with_suffix(".html")
    page.write_text(html)
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory) -> Path:
    return chromium_screenshot(PAGE, tmp_path_factory.mktemp("page") / "page.png")


def norm(word: str) -> str:
    return word.strip(",:;()[]").lower()


def recall(found: list[str], expected: list[str]) -> float:
    pool = [norm(w) for w in found]
    hits = 0
    for word in expected:
        if norm(word) in pool:
            pool.remove(norm(word))
            hits += 1
    return hits / len(expected)


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_engines_read_the_words_of_a_screenshot_with_boxes(screenshot, tmp_path, engine):
    runner = OcrRunner(OcrSettings(engine=engine, workers=1), cache_dir=None)
    words = runner.read([OcrRequest(str(screenshot))], problem=pytest.fail)[OcrRequest(str(screenshot))]
    assert words is not None
    assert recall([w.text for w in words], WORDS) >= 0.85
    width, height = Image.open(screenshot).size
    search = next(w for w in words if w.text == "Search")
    assert search.box[0] < search.box[2] <= width / 2 and search.box[1] < search.box[3] < height / 2
    assert search.mid == pytest.approx(
        ((search.box[0] + search.box[2]) / 2 / width, (search.box[1] + search.box[3]) / 2 / height), abs=1e-3
    )
    # reading order: top to bottom
    assert words.index(search) < words.index(next(w for w in words if w.text.lower() == "vicuna"))


def test_a_region_is_read_alone_and_boxes_stay_in_frame_pixels(screenshot):
    runner = OcrRunner(OcrSettings(engine="rapidocr", workers=1), cache_dir=None)
    request = OcrRequest(str(screenshot), TERMINAL)
    words = runner.read([request], problem=pytest.fail)[request]
    texts = [w.text for w in words]
    assert "train.py" in texts and "Experiment" not in texts and "Search" not in texts
    x0, y0, x1, y1 = TERMINAL
    assert all(x0 <= w.box[0] and w.box[2] <= x1 and y0 <= w.box[1] and w.box[3] <= y1 for w in words)


def test_the_cache_reads_each_frame_once_per_setting(screenshot, tmp_path):
    request = OcrRequest(str(screenshot), TERMINAL)
    first = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path)
    words = first.read([request], problem=pytest.fail)[request]
    assert (first.stats.read, first.stats.cached) == (1, 0)
    again = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path)
    assert again.read([request], problem=pytest.fail)[request] == words
    assert (again.stats.read, again.stats.cached) == (1 - 1, 1)
    changed = OcrRunner(OcrSettings(engine="tesseract", engine_options={"psm": 6}, workers=1), cache_dir=tmp_path)
    changed.read([request], problem=pytest.fail)
    assert (changed.stats.read, changed.stats.cached) == (1, 0)


def test_near_identical_frames_are_read_once(screenshot, tmp_path):
    image = Image.open(screenshot).convert("RGB")
    caret = image.copy()
    ImageDraw.Draw(caret).rectangle((900, 300, 901, 310), fill="black")  # a blinking caret
    new_line = image.copy()
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
    ImageDraw.Draw(new_line).text((40, 300), "Checkpoint saved to disk", fill="black", font=font)
    paths = []
    for name, picture in (("a", image), ("b", caret), ("c", new_line)):
        paths.append(tmp_path / f"{name}.png")
        picture.save(paths[-1])
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path / "cache")
    out = runner.read([OcrRequest(str(p)) for p in paths], problem=pytest.fail)
    assert runner.stats.read == 2 and runner.stats.near_duplicates == 1
    a, b, c = (out[OcrRequest(str(p))] for p in paths)
    assert a == b and "Checkpoint" in [w.text for w in c]
    # the copy is cached under its own key: a rebuild reads nothing
    warm = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path / "cache")
    warm.read([OcrRequest(str(p)) for p in paths], problem=pytest.fail)
    assert (warm.stats.read, warm.stats.cached) == (0, 3)


def test_broken_and_missing_frames_are_reported_not_fatal(screenshot, tmp_path):
    broken = tmp_path / "broken.webp"
    broken.write_bytes(b"RIFF\x00\x10\x00\x00WEBPVP8 " + b"\x00" * 40)
    problems: list[str] = []
    runner = OcrRunner(OcrSettings(engine="tesseract", workers=1), cache_dir=tmp_path)
    out = runner.read(
        [OcrRequest(str(broken)), OcrRequest(str(tmp_path / "gone.png")), OcrRequest(str(screenshot), TERMINAL)],
        problem=problems.append,
    )
    assert out[OcrRequest(str(broken))] is None and out[OcrRequest(str(tmp_path / "gone.png"))] is None
    assert out[OcrRequest(str(screenshot), TERMINAL)]
    assert len(problems) == 2
    assert any(p.startswith(f"{broken}: frame does not decode") for p in problems)
    assert any(p.startswith(f"{tmp_path / 'gone.png'}: cannot read frame") for p in problems)


def test_a_process_pool_gives_the_same_words(screenshot, tmp_path):
    image = Image.open(screenshot).convert("RGB")
    requests = []
    for i, box in enumerate([(0, 0, 520, 120), (0, 100, 520, 260), (540, 30, 1010, 170), (0, 0, 1024, 160)]):
        path = tmp_path / f"part{i}.png"
        image.crop(box).save(path)
        requests.append(OcrRequest(str(path)))
    pooled = OcrRunner(OcrSettings(engine="tesseract", workers=2, reuse=False), cache_dir=None).read(
        requests, pytest.fail
    )
    alone = OcrRunner(OcrSettings(engine="tesseract", workers=1, reuse=False), cache_dir=None).read(
        requests, pytest.fail
    )
    assert pooled == alone and all(pooled[r] for r in requests)
