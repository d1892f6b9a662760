"""The report page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
opened from file:// with no network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from report_sample import make_sample_build, make_sample_session

from toolbox.cli import main

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Opened:
    """A page with every console error, page error and failed or non-file request recorded."""

    def __init__(self, browser: Browser, html: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:")) else self.errors.append(f"network: {r.url}"),
        )
        self.page.goto(html.as_uri())
        self.page.wait_for_selector("body[data-ready='1']")

    def images_loaded(self) -> list[str]:
        """Every <img> on the page, after scrolling it into view (thumbnails load lazily): the
        ones that did not load."""
        page = self.page
        for img in page.locator("img").all():
            img.scroll_into_view_if_needed()
        for _ in range(100):  # (wait_for_function would need 'unsafe-eval', which the page's CSP forbids)
            if page.evaluate("[...document.images].every(i => i.complete)"):
                break
            page.wait_for_timeout(50)
        return page.evaluate("[...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)")

    def rows(self) -> list[str]:
        return self.page.locator("#list tbody tr.row").evaluate_all("rows => rows.map(r => r.dataset.id)")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    build = make_sample_build(root, episodes=12, sessions=2, frames_per_episode=2, drop_every=4)
    report = root / "report.html"
    assert main(["report", str(build.output), "-o", str(report)]) == 0
    return report


def test_page_loads_offline_with_summary_and_every_image(browser: Browser, sample: Path) -> None:
    opened = Opened(browser, sample)
    page = opened.page
    assert page.locator("#cards [data-key='written'] .value").inner_text() == "9"
    assert page.locator("#cards [data-key='llm cost'] .value").inner_text() == "$0.0123"
    assert page.locator("#cards [data-key='llm requests'] .value").inner_text() == "12"
    assert page.locator("#drops tbody tr").count() == 2
    assert page.locator("#histogram svg rect.bar").count() >= 1
    assert page.locator("#count").inner_text() == "12 episodes"
    page.locator("#list tbody tr.row").first.click()
    assert opened.images_loaded() == []
    assert opened.errors == []
    page.close()


def test_opening_an_episode_shows_conversation_frames_clicks_and_toggleable_ocr(browser: Browser, sample: Path) -> None:
    opened = Opened(browser, sample)
    page = opened.page
    page.locator("#list tbody tr.row").nth(1).click()
    detail = page.locator("#detail")
    detail.wait_for(state="visible")
    assert "step 2" in detail.locator(".msg.user").first.inner_text()
    assert detail.locator(".msg.assistant .call .fn").all_inner_texts() == ["click", "click"]
    assert detail.locator(".msg.tool").count() == 2
    assert detail.locator(".frame img").count() == 2
    assert detail.locator(".frame").first.locator(".mark circle").count() == 2  # the two clicks on the frame before
    assert detail.locator(".timeline .seg.current").count() == 1
    boxes = detail.locator(".frame").first.locator(".ocr rect")
    assert boxes.count() == 4
    expect(boxes.first).to_be_hidden()  # (expect waits for the page's handler; is_visible did not)
    page.check("#ocr-toggle")
    expect(boxes.first).to_be_visible()
    page.uncheck("#ocr-toggle")
    expect(boxes.first).to_be_hidden()
    # a thumbnail opens the full-size frame (the recorded image itself)
    detail.locator(".frame-box").first.click()
    full = page.locator("#lb-stage img")
    full.wait_for(state="visible")
    expect(full).to_have_js_property("complete", True)
    assert full.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [640, 400]
    assert "sessions" in full.get_attribute("src")
    first_src = full.get_attribute("src")
    page.keyboard.press("ArrowRight")  # the next frame of the interval
    assert page.locator("#lb-stage img").get_attribute("src") != first_src
    assert "2 of 2" in page.locator("#lb-caption").inner_text()
    page.keyboard.press("Escape")
    assert page.locator("#lightbox").is_hidden()
    # another interval of the same session, from the timeline
    detail.locator(".timeline .seg").nth(3).click()
    assert "step 4" in page.locator("#detail h2").inner_text()
    assert opened.errors == []
    page.close()


def test_search_and_filters_narrow_the_list(browser: Browser, sample: Path) -> None:
    opened = Opened(browser, sample)
    page = opened.page
    page.fill("#search", 'weekly "step 3"')
    expect(page.locator("#count")).to_have_text("1 of 12 episodes")
    assert len(opened.rows()) == 1
    page.click("#f-clear")
    page.select_option("#f-window", "Terminal")
    assert page.locator("#count").inner_text() == "2 of 12 episodes"
    assert all(w == "Terminal" for w in page.locator("#list tbody tr.row td:nth-child(3)").all_inner_texts())
    page.click("#f-clear")
    page.select_option("#f-task", "Write the weekly report")
    assert page.locator("#count").inner_text() == "6 of 12 episodes"
    page.select_option("#f-status", "dropped")
    assert page.locator("#count").inner_text() == "2 of 12 episodes"
    page.click("#f-clear")
    page.locator("#drops a.reason-link", has_text="near duplicate").click()
    assert page.locator("#count").inner_text() == "2 of 12 episodes"
    assert page.locator("#f-reason").input_value() == "near_dedupe: near duplicate"
    assert opened.errors == []
    page.close()


def test_a_dropped_episode_links_to_why(browser: Browser, sample: Path) -> None:
    opened = Opened(browser, sample)
    page = opened.page
    page.locator("#list tbody tr.row.dropped a.why-link").first.click()
    why = page.locator("#why")
    why.wait_for(state="visible")
    assert "Dropped by near_dedupe: near duplicate" in why.inner_text()
    assert "detail of the drop" in why.inner_text()
    assert page.evaluate("location.hash").endswith("&why")
    why.get_by_text("all episodes dropped for this reason").click()
    assert page.locator("#count").inner_text() == "2 of 12 episodes"
    assert opened.errors == []
    page.close()


def test_pagination_with_1200_episodes(browser: Browser, tmp_path: Path) -> None:
    build = make_sample_build(
        tmp_path, episodes=1200, sessions=6, frames_per_episode=1, size=(160, 100), drop_every=10, image_ext=".png"
    )
    report = tmp_path / "big.html"
    assert main(["report", str(build.output), "-o", str(report)]) == 0
    opened = Opened(browser, report)
    page = opened.page
    assert page.locator("#count").inner_text() == "1,200 episodes"
    assert page.locator("#page").inner_text() == "page 1 of 24"
    first = opened.rows()
    assert len(first) == 50 and page.locator("#prev").is_disabled()
    page.click("#next")
    assert page.locator("#page").inner_text() == "page 2 of 24"
    assert len(set(opened.rows()) & set(first)) == 0
    page.select_option("#f-status", "dropped")
    assert page.locator("#count").inner_text() == "120 of 1,200 episodes"
    assert page.locator("#page").inner_text() == "page 1 of 3"
    page.click("#next")
    page.click("#next")
    assert len(opened.rows()) == 20 and page.locator("#next").is_disabled()
    page.locator("#list tbody tr.row").last.click()
    expect(page.locator("#why")).to_be_visible()  # the detail opens on the hash change, after the click
    assert page.locator("img").count() == 1  # only the opened episode's frames are in the page
    assert opened.images_loaded() == []
    assert opened.errors == []
    page.close()


def test_report_of_a_real_build_and_of_a_file_without_frames(browser: Browser, tmp_path: Path) -> None:
    make_sample_session(tmp_path / "sessions")
    (tmp_path / "b.yaml").write_text(
        "datasets: [{name: sessions, path: sessions}]\ntasks: [{name: interval_episodes, ocr: null, transcriber: {name: heuristic, per: interval}}]\n"
        "filters: [exact_dedupe, {name: quality, min_turns: 5}]\nformat: glaive\noutput: out/data.jsonl\n"
    )
    report = tmp_path / "out" / "report.html"
    assert main(["--config", str(tmp_path / "b.yaml"), "--report", str(report), "-q"]) == 0
    opened = Opened(browser, report)
    page = opened.page
    assert page.locator("#count").inner_text() == "3 episodes"
    for i in range(3):
        page.locator("#list tbody tr.row").nth(i).click()
        page.locator("#detail .frame img").first.wait_for(timeout=10_000)  # the detail renders after the click
        assert opened.images_loaded() == []
    assert page.locator("#list tbody tr.row.dropped").count() == 2
    page.close()
    # the same output re-read without its episodes log: glaive rows, no frames, still fine
    (tmp_path / "out" / "data.jsonl.episodes.jsonl").unlink()
    plain = tmp_path / "plain.html"
    assert main(["report", str(tmp_path / "out" / "data.jsonl"), "-o", str(plain)]) == 0
    opened = Opened(browser, plain)
    page = opened.page
    page.locator("#list tbody tr.row").first.click()
    expect(page.locator("#detail .msg.user")).to_have_count(1)
    assert "no frames for this episode" in page.locator("#detail .frames").inner_text()
    assert opened.errors == []
    page.close()


DEMO = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"


def test_report_of_the_demo_build_with_real_ocr(browser: Browser, tmp_path: Path) -> None:
    """configs/demo.yaml as shipped (recorded sample session, tesseract, heuristic transcriber),
    with its paths pointed at the repo and the output and OCR cache into tmp_path."""
    import yaml

    config = yaml.safe_load(DEMO.read_text())
    config["datasets"][0]["path"] = str((DEMO.parent / config["datasets"][0]["path"]).resolve())
    config.update(output=str(tmp_path / "demo.jsonl"), cache_dir=str(tmp_path / "cache"))
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    report = tmp_path / "report.html"
    assert main(["--config", str(tmp_path / "demo.yaml"), "--report", str(report), "-q"]) == 0
    opened = Opened(browser, report)
    page = opened.page
    rows = page.locator("#list tbody tr.row")
    assert rows.count() >= 1
    ocr_boxes = 0
    for i in range(rows.count()):
        rows.nth(i).click()
        expect(page.locator("#detail .msg.user")).to_have_count(1)
        page.locator("#detail .frame img").first.wait_for(timeout=10_000)  # the detail renders after the click
        assert opened.images_loaded() == []
        ocr_boxes += page.locator("#detail .ocr rect").count()
    assert ocr_boxes > 0  # tesseract read words on the frames
    assert opened.errors == []
    page.close()


def test_markup_in_episodes_is_shown_as_text(browser: Browser, tmp_path: Path) -> None:
    import orjson

    nasty = "</script><img src=x onerror=\"document.title='pwned'\"><b>bold</b> & <!-- comment"
    row = {"messages": [{"role": "user", "content": nasty}, {"role": "assistant", "content": "ok"}]}
    (tmp_path / "o.jsonl").write_bytes(orjson.dumps(row) + b"\n")
    assert main(["report", str(tmp_path / "o.jsonl"), "--title", "<i>t</i>"]) == 0
    opened = Opened(browser, tmp_path / "o.report.html")
    page = opened.page
    assert page.title() == "<i>t</i>"
    page.locator("#list tbody tr.row").first.click()
    assert page.locator("#detail .msg.user .content").inner_text() == nasty
    assert page.locator("img").count() == 0 and page.locator("#detail b").count() == 0
    assert page.title() == "<i>t</i>" and opened.errors == []
    page.close()
