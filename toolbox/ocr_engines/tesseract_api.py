"""Tesseract's C API (libtesseract.so.5, which Debian's tesseract-ocr depends on) through ctypes:
one engine stays loaded in the process, so a read costs recognition only, not a process start
and a model load (about 0.15 s a read on this machine, more than half of a typical band's read).

The library is the one the `tesseract` command runs, called the way the command calls it (the
same init settings, page segmentation mode and TSV output), so the words are the same.
Nothing here is compiled: no -dev package is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import weakref
from functools import lru_cache

from PIL import Image

_OEM_DEFAULT = 3
# the header the command writes before its TSV rows (the API gives the rows only)
TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"


class TesseractApiError(RuntimeError):
    """The library cannot start (e.g. the language's model is not installed)."""


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    """libtesseract with its OpenMP threads limited to one, or None (not installed, or OpenMP
    already started in this process without that limit: then the command line is used).

    Tesseract's OpenMP threads make it slower, not faster, when every core is busy (measured: 2x
    slower on a loaded 2-core machine); libgomp reads OMP_THREAD_LIMIT only when it loads, so the
    variable is set for the load and put back at once."""
    name = ctypes.util.find_library("tesseract") or "libtesseract.so.5"
    if _loaded("libgomp.so.1") and os.environ.get("OMP_THREAD_LIMIT") != "1":
        return None
    previous = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    finally:
        if previous is None:
            del os.environ["OMP_THREAD_LIMIT"]
        else:
            os.environ["OMP_THREAD_LIMIT"] = previous
    handle, text, c_int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    strings = ctypes.POINTER(ctypes.c_char_p)
    signatures = {
        "TessBaseAPICreate": ([], handle),
        "TessBaseAPIDelete": ([handle], None),
        "TessBaseAPIInit4": (
            [handle, text, text, c_int, strings, c_int, strings, strings, ctypes.c_size_t, c_int],
            c_int,
        ),
        "TessBaseAPISetVariable": ([handle, text, text], c_int),
        "TessBaseAPISetPageSegMode": ([handle, c_int], None),
        "TessBaseAPISetImage": ([handle, text, c_int, c_int, c_int, c_int], None),
        "TessBaseAPIRecognize": ([handle, ctypes.c_void_p], c_int),
        "TessBaseAPIGetTsvText": ([handle, c_int], ctypes.c_void_p),
        "TessBaseAPIClear": ([handle], None),
        "TessDeleteText": ([ctypes.c_void_p], None),
    }
    try:
        for function, (args, result) in signatures.items():
            getattr(lib, function).argtypes = args
            getattr(lib, function).restype = result
    except AttributeError:  # not the C API this was written for
        return None
    return lib


def _loaded(soname: str) -> bool:
    try:
        ctypes.CDLL(soname, mode=os.RTLD_NOLOAD)
    except OSError:
        return False
    return True


class TesseractApi:
    """One loaded engine: `tsv(image)` reads a gray image as `tesseract stdin stdout --psm N tsv`
    would (with the same `-c` settings), without the header line."""

    def __init__(self, lib: ctypes.CDLL, lang: str, psm: int, config: dict[str, str]) -> None:
        self.lib = lib
        self.handle = lib.TessBaseAPICreate()
        weakref.finalize(self, lib.TessBaseAPIDelete, self.handle)
        names = [name.encode() for name in sorted(config)]
        values = [config[name].encode() for name in sorted(config)]
        array = ctypes.c_char_p * max(len(names), 1)
        failed = lib.TessBaseAPIInit4(
            self.handle, None, lang.encode(), _OEM_DEFAULT, None, 0, array(*names), array(*values), len(names), 0
        )
        if failed:
            raise TesseractApiError(f"tesseract cannot load language {lang!r} (is tesseract-ocr-{lang} installed?)")
        lib.TessBaseAPISetVariable(self.handle, b"debug_file", b"/dev/null")  # no "Estimating resolution" lines
        lib.TessBaseAPISetPageSegMode(self.handle, psm)

    def tsv(self, image: Image.Image) -> str:
        gray = image if image.mode == "L" else image.convert("L")
        self.lib.TessBaseAPISetImage(self.handle, gray.tobytes(), gray.width, gray.height, 1, gray.width)
        if self.lib.TessBaseAPIRecognize(self.handle, None) != 0:
            raise TesseractApiError("tesseract could not recognize the image")
        pointer = self.lib.TessBaseAPIGetTsvText(self.handle, 0)
        try:
            return ctypes.string_at(pointer).decode("utf-8", errors="replace") if pointer else ""
        finally:
            self.lib.TessDeleteText(pointer)
            self.lib.TessBaseAPIClear(self.handle)
