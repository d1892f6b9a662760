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
        max_side_len: int = 4096  # larger images are shrunk first (rapidocr's default 2000 undoes upscaling)
        rec_upscale: float = 2.0  # recognize each detected line from a crop this many times larger
        crop_pad: float = 0.15  # grow each line's crop by this share of its height before recognizing

    _ocr: Any = None

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr_onnxruntime import RapidOCR  # heavy import: only where OCR runs

            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            kwargs: dict[str, Any] = {"text_score": self.options.text_score, "max_side_len": self.options.max_side_len}
            if self.threads:
                kwargs["intra_op_num_threads"] = self.threads
                kwargs["inter_op_num_threads"] = 1
            self._ocr = RapidOCR(**kwargs)
        return self._ocr

    def read(self, image: Image.Image) -> list[RawWord]:
        """Detect text lines on the image as it is, then recognize each line from a padded crop
        upscaled `rec_upscale` times: PP-OCR's recognizer drops the spaces of small UI text
        (12-20 px) read at 1x, and upscaling only the crops costs far less than the whole frame."""
        ocr = self._engine()
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        if self.options.rec_upscale == 1.0 and self.options.crop_pad == 0.0:
            result, _ = ocr(
                bgr,
                use_cls=self.options.use_cls,
                text_score=self.options.text_score,
                box_thresh=self.options.box_thresh,
                unclip_ratio=self.options.unclip_ratio,
            )
            lines = [(text, score, points) for points, text, score in (result or [])]
        else:
            lines = self._read_upscaled(ocr, bgr)
        words: list[RawWord] = []
        for number, (text, score, points) in enumerate(lines):
            if float(score) < self.options.text_score or not str(text).strip():
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            words.extend(split_line(str(text), (min(xs), min(ys), max(xs), max(ys)), float(score), number))
        return words

    def _read_upscaled(self, ocr: Any, bgr: np.ndarray) -> list[tuple[str, float, Any]]:
        import cv2  # installed with rapidocr-onnxruntime

        ocr.text_det.postprocess_op.box_thresh = self.options.box_thresh
        ocr.text_det.postprocess_op.unclip_ratio = self.options.unclip_ratio
        boxes, _ = ocr.text_det(bgr)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = ocr.sorted_boxes(boxes)
        height, width = bgr.shape[:2]
        crops, rects = [], []
        for box in boxes:
            x0, y0, x1, y1 = (
                float(box[:, 0].min()),
                float(box[:, 1].min()),
                float(box[:, 0].max()),
                float(box[:, 1].max()),
            )
            pad = (y1 - y0) * self.options.crop_pad
            cx0, cy0 = max(0, int(x0 - pad)), max(0, int(y0 - pad))
            cx1, cy1 = min(width, int(x1 + pad) + 1), min(height, int(y1 + pad) + 1)
            if cx1 - cx0 < 2 or cy1 - cy0 < 2:
                continue
            crop = bgr[cy0:cy1, cx0:cx1]
            if self.options.rec_upscale != 1.0:
                crop = cv2.resize(
                    crop, None, fx=self.options.rec_upscale, fy=self.options.rec_upscale, interpolation=cv2.INTER_CUBIC
                )
            crops.append(crop)
            rects.append([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        if self.options.use_cls and crops:
            crops, _, _ = ocr.text_cls(crops)
        results, _ = ocr.text_rec(crops) if crops else ([], 0.0)
        return [(r[0], r[1], rect) for r, rect in zip(results, rects)]
