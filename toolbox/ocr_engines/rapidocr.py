"""rapidocr (PP-OCR models on onnxruntime): pip-only, the models ship in the wheel."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PIL import Image

from toolbox.core.plugin import Options
from toolbox.core.registry import register_ocr_engine
from toolbox.ocr_engines.base import OcrEngine, RawWord, split_line


@register_ocr_engine("rapidocr")
class RapidOcrEngine(OcrEngine):
    """rapidocr-onnxruntime (PP-OCRv4 det + rec): line boxes split into words; no system packages."""

    class Options(Options):
        text_score: float = 0.5  # drop lines read with less confidence
        box_thresh: float = 0.5  # detector box threshold
        unclip_ratio: float = 1.6  # how far detected boxes are grown
        use_cls: bool = False  # the 180-degree text classifier: screen text is upright, so off (faster)

    _ocr: Any = None

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR  # heavy import: only where OCR runs

            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            kwargs: dict[str, Any] = {"text_score": self.options.text_score}
            if self.threads:
                kwargs["intra_op_num_threads"] = self.threads
                kwargs["inter_op_num_threads"] = 1
            self._ocr = RapidOCR(**kwargs)
        return self._ocr

    def read(self, image: Image.Image) -> list[RawWord]:
        array = np.asarray(image.convert("RGB"))[:, :, ::-1]  # rapidocr expects BGR like cv2
        result, _ = self._engine()(
            np.ascontiguousarray(array), use_cls=self.options.use_cls, text_score=self.options.text_score,
            box_thresh=self.options.box_thresh, unclip_ratio=self.options.unclip_ratio)
        words: list[RawWord] = []
        for line, (points, text, score) in enumerate(result or []):
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            words.extend(split_line(str(text), (min(xs), min(ys), max(xs), max(ys)), float(score), line))
        return words
