"""A small shop site served on 127.0.0.1, and MHTML snapshots of it captured in Chromium with
CDP `Page.captureSnapshot` (toolbox.web.mhtml.capture_mhtml), for the web tests."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from toolbox.web.mhtml import capture_mhtml

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 720}
GREEN = (0, 128, 0)  # the heading's colour, set only by the stylesheet
LOGO = (200, 30, 30)  # the logo image's colour

INDEX = """<!doctype html>
<html><head><title>Garden Shop</title><link rel="stylesheet" href="css/shop.css"></head>
<body>
<h1 id="title">Garden Shop</h1>
<img id="logo" src="img/logo.png" width="60" height="30" alt="logo">
<form>
  <input id="query" name="q" placeholder="Search plants" backend_node_id="101">
  <select id="size" backend_node_id="102"><option>Small</option><option>Large</option></select>
  <button type="button" id="go" class="btn primary" backend_node_id="103">Search</button>
</form>
<p><a href="/cart" id="cart" backend_node_id="104">Open cart</a></p>
<div class="card" id="card" backend_node_id="105">Weekly deals <span id="inner">today</span></div>
<div class="wrap">
  <button type="button" id="covered" backend_node_id="106">Hidden offer</button><div class="overlay"></div>
</div>
<button type="button" id="invisible" style="visibility:hidden">Invisible</button>
<div class="spacer"></div>
<a href="/help" id="footer" backend_node_id="107">Footer help</a>
</body></html>
"""
CSS = """body { font-family: "DejaVu Sans", sans-serif; font-size: 18px; margin: 20px; }
body { background: #fff url("../img/bg.png"); }
h1 { color: rgb(0, 128, 0); font-size: 40px; margin: 0 0 10px 0; }
input, select, button { font-size: 18px; padding: 4px; }
.card { cursor: pointer; display: inline-block; padding: 6px; border: 1px solid #888; }
.wrap { position: relative; display: inline-block; margin-top: 20px; }
.overlay { position: absolute; left: 0; top: 0; right: 0; bottom: 0; background: rgba(255, 255, 255, 0.01); }
.spacer { height: 1400px; }
"""
ELEMENTS = ("#title", "#logo", "#query", "#size", "#go", "#cart", "#card", "#inner", "#covered", "#footer")


def write_site(folder: Path) -> Path:
    (folder / "css").mkdir(parents=True)
    (folder / "img").mkdir()
    (folder / "index.html").write_text(INDEX)
    (folder / "css" / "shop.css").write_text(CSS)
    Image.new("RGB", (60, 30), LOGO).save(folder / "img" / "logo.png")
    Image.new("RGB", (8, 8), (255, 255, 255)).save(folder / "img" / "bg.png")
    return folder


class Server:
    """The folder served on 127.0.0.1; `requests` lists every path asked for."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def capture(url: str, states: dict[str, Callable[[Page], None]]) -> tuple[dict[str, str], dict[str, dict]]:
    """Open `url`, and for each state (name -> what to do on the page first, in order) capture
    an MHTML snapshot; also the DOM boxes of ELEMENTS (page pixels) as the live page had them."""
    snapshots: dict[str, str] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url + "index.html")
        boxes = {sel: page.locator(sel).bounding_box() for sel in ELEMENTS}
        for name, act in states.items():
            act(page)
            snapshots[name] = capture_mhtml(page)
        browser.close()
    return snapshots, boxes
