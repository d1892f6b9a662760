"""Tesseract (Debian's tesseract-ocr): word boxes from its TSV output, read by the library loaded
once per process (tesseract_api.py), or by the `tesseract` command where the library cannot be used."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess

from PIL import Image, ImageOps, ImageStat

from toolbox.core.plugin import Options
from toolbox.core.registry import register_ocr_engine
from toolbox.ocr_engines.base import OcrEngine, RawWord
from toolbox.ocr_engines.tesseract_api import TSV_HEADER, TesseractApi, TesseractApiError, library


class OcrEngineError(RuntimeError):
    """The engine cannot run (not installed, crashed); one line for the user."""


@register_ocr_engine("tesseract")
class TesseractEngine(OcrEngine):
    """Tesseract 5 (apt install tesseract-ocr): word boxes, LSTM model. The library stays loaded
    (one engine per process); a `binary` other than the default runs that command instead."""

    image_mode = "L"  # tesseract reads gray: the runner hands it gray crops

    class Options(Options):
        lang: str = "eng"
        psm: int = 11  # page segmentation: 11 = sparse text (UI labels scattered over a window)
        min_conf: float = 0.3  # drop words read with less confidence (0..1)
        upscale: float = 1.5  # enlarge the image first: 12-14 px UI text reads far better larger (bench/RESULTS-ocr.md:
        # 1.5x reads as well as 2x at ~3/4 of the time; 1x loses words)
        binary: str = "tesseract"
        config: dict[str, str] = {}  # extra `-c name=value` settings, e.g. {"tessedit_do_invert": "0"}
        invert_dark: bool = True  # a mostly dark image (terminal, dark theme) is inverted first: tesseract reads
        # dark-on-light text better and faster (its own per-line inversion stays on for mixed windows)

    _api: TesseractApi | None = None

    def read(self, image: Image.Image) -> list[RawWord]:
        factor = self.options.upscale
        image = image.convert("L")  # tesseract reads gray anyway; a third of the bytes to resize and send
        if factor != 1.0:
            image = image.resize(
                (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.LANCZOS
            )
        if self.options.invert_dark and _is_dark(image):
            image = ImageOps.invert(image)
        api = self._resident()
        text = TSV_HEADER + api.tsv(image) if api is not None else self._run_command(image)
        words = parse_tsv(text, self.options.min_conf)
        if factor == 1.0:
            return words
        return [
            w._replace(
                x0=round(w.x0 / factor), y0=round(w.y0 / factor), x1=round(w.x1 / factor), y1=round(w.y1 / factor)
            )
            for w in words
        ]

    def _resident(self) -> TesseractApi | None:
        """The engine loaded in this process, made at the first read; None: use the command."""
        if self._api is None and self.options.binary == "tesseract" and (lib := library()) is not None:
            try:
                self._api = TesseractApi(lib, self.options.lang, self.options.psm, self.options.config)
            except TesseractApiError as exc:
                raise OcrEngineError(str(exc)) from None
        return self._api

    def _run_command(self, image: Image.Image) -> str:
        exe = shutil.which(self.options.binary)
        if exe is None:
            raise OcrEngineError(
                f"{self.options.binary!r} not found; install tesseract-ocr (apt) or pick ocr: rapidocr"
            )
        buffer = io.BytesIO()
        image.save(buffer, format="PPM")  # uncompressed PGM: nothing to encode or decode
        env = dict(os.environ)
        env["OMP_THREAD_LIMIT"] = str(self.threads or 1)  # tesseract's OpenMP threads slow it down more than they help
        proc = subprocess.run(
            [
                exe,
                "stdin",
                "stdout",
                "-l",
                self.options.lang,
                "--psm",
                str(self.options.psm),
                *(arg for name, value in sorted(self.options.config.items()) for arg in ("-c", f"{name}={value}")),
                "tsv",
            ],
            input=buffer.getvalue(),
            capture_output=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            raise OcrEngineError(
                f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()[:200]}"
            )
        return proc.stdout.decode("utf-8", errors="replace")


def _is_dark(image: Image.Image) -> bool:
    """(A gray image.) Light text on a dark background (a terminal, a dark theme): the mean is below mid-gray."""
    return ImageStat.Stat(image.reduce(4)).mean[0] < 110


def parse_tsv(text: str, min_conf: float) -> list[RawWord]:
    words: list[RawWord] = []
    lines: dict[tuple[str, str, str, str], int] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        conf = float(row["conf"]) / 100.0
        if conf < min_conf:
            continue
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        line = lines.setdefault(key, len(lines))
        left, top, width, height = (int(row[k]) for k in ("left", "top", "width", "height"))
        words.append(RawWord(row["text"].strip(), left, top, left + width, top + height, conf, line))
    return words
