"""MHTML pages rendered offline: captured in the test from a local site (CDP Page.captureSnapshot,
with a typed value and a chosen option), rendered after the site's files are gone, every
resource from the archive, interactables tagged where the live page had them, OCR words inside
their elements, positions as fractions of the rendered page."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from web_site import GREEN, LOGO, Server, capture, write_site

from toolbox.cli import main
from toolbox.core.config import PluginRef
from toolbox.core.pipeline import instantiate
from toolbox.core.plugin import BuildContext
from toolbox.web.mhtml import read_archive
from toolbox.web.models import WebPage


class Site:
    """Two snapshots of the shop (as loaded; after typing and choosing), the site's files then
    deleted; its server keeps running (answering 404) and counting what it is asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pages = root / "pages"
        self.pages.mkdir()
        self.server = Server(write_site(root / "site"))
        snapshots, self.boxes = capture(
            self.server.url,
            {
                "fresh": lambda page: None,
                "typed": lambda page: (page.fill("#query", "red roses"), page.select_option("#size", "Large")),
            },
        )
        for name, text in snapshots.items():
            (self.pages / f"{name}.mhtml").write_text(text)
        shutil.rmtree(root / "site")
        self.asked_before = len(self.server.requests)

    def read_all(self, root: Path | None = None, cache: Path | None = None, **options: Any) -> dict[str, WebPage]:
        """The pages of `root`/pages (the site's by default), by name, read by the mhtml dataset
        (rendered once per cache folder: the module's own by default)."""
        root = root or self.root
        ctx = BuildContext(base_dir=root, cache_dir=cache or self.root / "cache")
        ref = PluginRef.model_validate({"name": "mhtml", "path": "pages", **options})
        dataset = instantiate("datasets", ref, "datasets[0]", ctx)
        pages = {Path(p.path).stem: p for p in dataset.records()}  # type: ignore[attr-defined]
        assert not ctx.stats.problems
        return pages


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    site = Site(tmp_path_factory.mktemp("web"))
    yield site
    site.server.close()


def by_id(page: WebPage) -> dict[str, Any]:
    return {t.id: t for t in page.tags}


def inside(point: tuple[float, float], box: tuple[float, float, float, float], slack: float = 2) -> bool:
    x, y = point
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


def dom_box(site: Site, selector: str) -> tuple[float, float, float, float]:
    b = site.boxes[selector]
    return b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]


def test_page_renders_from_the_archive_alone_and_nothing_reaches_the_network(site: Site, tmp_path: Path) -> None:
    pages = site.read_all(cache=tmp_path)  # rendered here, not read from a cache
    assert len(site.server.requests) == site.asked_before  # not one request while rendering
    page = pages["fresh"]
    assert page.missing == 0 and page.title == "Garden Shop"
    with Image.open(page.screenshot) as image:
        image = image.convert("RGB")
        x0, y0, x1, y1 = (round(v) for v in dom_box(site, "#title"))
        heading = [image.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1)]
        assert sum(p == GREEN for p in heading) > 200  # the stylesheet came from the archive
        lx0, ly0, lx1, ly1 = dom_box(site, "#logo")
        assert image.getpixel((round((lx0 + lx1) / 2), round((ly0 + ly1) / 2))) == LOGO  # and the image


def test_a_resource_the_archive_lacks_is_refused_not_fetched(site: Site, tmp_path: Path) -> None:
    text = (site.pages / "fresh.mhtml").read_text()
    extra = f'<img src=3D"{site.server.url}extra.png">'
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "extra.mhtml").write_text(text.replace("<h1 ", extra + "<h1 ", 1))
    assert read_archive((tmp_path / "pages" / "extra.mhtml").read_bytes()).get(site.server.url + "extra.png") is None
    page = site.read_all(tmp_path)["extra"]
    assert page.missing == 1
    assert "/extra.png" not in site.server.requests


def test_typed_value_and_chosen_option_are_restored(site: Site) -> None:
    pages = site.read_all()
    typed, fresh = pages["typed"], pages["fresh"]
    query, size = by_id(typed)["query"], by_id(typed)["size"]
    assert query.value == "red roses" and size.value == "Large"
    words = {w.text: w for w in typed.words}
    for text in ("red", "roses"):  # read by OCR on the screenshot, inside the input
        w = words[text]
        assert inside(((w.box[0] + w.box[2]) / 2, (w.box[1] + w.box[3]) / 2), query.box)
    large = words["Large"]
    assert inside(((large.box[0] + large.box[2]) / 2, (large.box[1] + large.box[3]) / 2), size.box)
    assert not {"red", "roses", "Large"} & {w.text for w in fresh.words}
    assert by_id(fresh)["query"].value == ""


def test_interactables_are_tagged_where_the_live_page_had_them(site: Site) -> None:
    page = site.read_all()["fresh"]
    tags = by_id(page)
    # links, buttons, inputs, selects, an element with its own pointer cursor
    assert set(tags) == {"query", "size", "go", "cart", "card", "footer"}
    assert [t.n for t in page.tags] == list(range(len(page.tags)))
    # not the button under an overlay, not the hidden one, not the span that inherits the pointer
    assert not {"covered", "invisible", "inner"} & set(tags)
    for element_id, tag in tags.items():
        expected = dom_box(site, f"#{element_id}")
        assert all(abs(a - b) <= 1.5 for a, b in zip(tag.box, expected)), (element_id, tag.box, expected)
    assert tags["go"].text == "Search" and tags["cart"].tag == "a" and tags["card"].tag == "div"
    search = [w for w in page.words if w.text == "Search"]  # the button's caption, OCR'd inside it
    assert any(inside(((w.box[0] + w.box[2]) / 2, (w.box[1] + w.box[3]) / 2), tags["go"].box) for w in search)


def test_positions_are_fractions_of_the_rendered_page(site: Site) -> None:
    page = site.read_all()["fresh"]
    footer = dom_box(site, "#footer")
    assert 720 < page.height < 3240 and page.height >= footer[3]  # the page's own height: not the viewport's, not 3240
    cart = next(w for w in page.words if w.text == "cart")
    assert cart.mid == pytest.approx(
        ((cart.box[0] + cart.box[2]) / 2 / 1280, (cart.box[1] + cart.box[3]) / 2 / page.height), abs=1e-3
    )
    help_word = next(w for w in page.words if w.text == "help")
    assert inside((help_word.mid[0] * page.width, help_word.mid[1] * page.height), footer)


@pytest.mark.parametrize(
    ("options", "height"), [({"full_page": False, "height": 720}, 720), ({"max_height": 1000}, 1000)]
)
def test_a_screen_smaller_than_the_page_keeps_only_what_it_shows(site: Site, options: dict, height: int) -> None:
    page = site.read_all(**options)["fresh"]
    assert page.height == height
    assert "footer" not in by_id(page) and "cart" in by_id(page)
    assert all(0 <= w.mid[1] <= 1 for w in page.words) and "Footer" not in {w.text for w in page.words}


def test_a_build_writes_a_llama2d_row_per_page(site: Site) -> None:
    (site.root / "build.yaml").write_text(
        "datasets: [{name: mhtml, path: pages}]\ntasks: [{name: web_screens, prompt: Read the page.}]\n"
        "format: llama2d\noutput: out/pages.jsonl\ncache_dir: cache\n"
    )
    asked = len(site.server.requests)
    assert main(["--config", str(site.root / "build.yaml"), "-q"]) == 0
    assert len(site.server.requests) == asked
    rows = [json.loads(line) for line in (site.root / "out" / "pages.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    row = rows[0]
    assert set(row) == {"prompt", "screen", "output"} and row["prompt"] == "Read the page." and row["output"] == ""
    page = site.read_all()["fresh"]
    assert row["screen"]["height"] == page.height and row["screen"]["width"] == 1280
    texts = [w["text"] for w in row["screen"]["words"]]
    assert texts[-len(page.tags) :] == [f"[{t.n}]" for t in page.tags]  # the tags after the words
    footer_tag = by_id(page)["footer"]
    xy = row["screen"]["words"][texts.index(f"[{footer_tag.n}]")]["xy"]
    assert xy == pytest.approx([footer_tag.center[0] / 1280, footer_tag.center[1] / page.height], abs=1e-4)
    assert main(["validate", str(site.root / "out" / "pages.jsonl"), "--format", "llama2d"]) == 0


def test_a_file_that_is_not_an_mhtml_page_is_counted_and_the_rest_read(site: Site, tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    shutil.copy(site.pages / "fresh.mhtml", tmp_path / "pages" / "fresh.mhtml")
    (tmp_path / "pages" / "broken.mhtml").write_text("Subject: not a page\n\njust text\n")
    ctx = BuildContext(base_dir=tmp_path, cache_dir=site.root / "cache")
    dataset = instantiate("datasets", PluginRef.model_validate({"name": "mhtml", "path": "pages"}), "d", ctx)
    assert [Path(p.path).name for p in dataset.records()] == ["fresh.mhtml"]  # type: ignore[attr-defined]
    assert ctx.stats.skipped == {"pages": 1} and "broken.mhtml: not an MHTML page" in ctx.stats.problems[0]


def test_an_ocr_engine_that_cannot_run_costs_the_pages_not_the_build(site: Site) -> None:
    ctx = BuildContext(base_dir=site.root, cache_dir=site.root / "cache")
    ocr = {"name": "tesseract", "binary": "no-such-tesseract"}
    dataset = instantiate(
        "datasets", PluginRef.model_validate({"name": "mhtml", "path": "pages", "ocr": ocr}), "d", ctx
    )
    assert list(dataset.records()) == []  # type: ignore[attr-defined]
    pages = len(list((site.root / "pages").glob("*.mhtml")))
    assert pages >= 1 and ctx.stats.skipped == {"pages": pages}  # each page that could not be read, counted
    assert "OCR failed (OcrEngineError" in ctx.stats.problems[0]
