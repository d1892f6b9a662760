"""MHTML archives (a saved web page: the document and every resource it used, as MIME parts),
read so a page can be rendered from the archive alone, and captured from a live page.

Chromium names each part by the URL it came from (Content-Location) and frames by a Content-ID
that the markup points at with `cid:` URLs; a renderer serves every request from `resources`
by URL, so `cid:` references are rewritten to URLs the archive serves.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from playwright.sync_api import Page

SYNTHETIC_ORIGIN = "https://mhtml.invalid"  # URLs for parts without an http(s) location
_CID = re.compile(rb"cid:([^\s\"'<>()\\]+)")

# Live form state copied into the attributes Mind2Web uses, so the snapshot keeps it (page.js
# `restore` puts it back when the archive is rendered).
_RECORD_FORM_STATE = """() => {
  for (const el of document.querySelectorAll("input, textarea, select")) {
    if (el instanceof HTMLSelectElement) {
      for (const o of el.options) o.setAttribute("option_selected", String(o.selected));
    } else if (el.type === "checkbox" || el.type === "radio") {
      el.setAttribute("input_checked", String(el.checked));
    } else if (el.type !== "file" && el.type !== "password") {
      el.setAttribute("input_value", el.value);
    }
  }
}"""


class ArchiveError(ValueError):
    """The file is not an MHTML archive with an HTML document."""


@dataclass(frozen=True)
class Resource:
    content_type: str  # the part's Content-Type header, with its charset
    body: bytes


@dataclass
class Archive:
    url: str  # the document's URL: where a renderer navigates
    title: str = ""
    resources: dict[str, Resource] = field(default_factory=dict)  # by URL (no fragment)

    def get(self, url: str) -> Resource | None:
        return self.resources.get(url.split("#", 1)[0])


def read_archive(data: bytes) -> Archive:
    """The archive's document and resources. Raises ArchiveError when there is no HTML part."""
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = [p for p in message.walk() if not p.is_multipart()]
    if not parts:
        raise ArchiveError("not a MIME archive (no parts)")
    urls: dict[Message, str] = {}
    by_cid: dict[str, str] = {}
    for part in parts:
        location = (part.get("Content-Location") or "").strip()
        cid = (part.get("Content-ID") or "").strip().strip("<>")
        url = location.split("#", 1)[0]
        if not url.startswith(("http://", "https://")) or url in urls.values():
            url = f"{SYNTHETIC_ORIGIN}/{quote(cid or location or str(len(urls)), safe='')}"
        urls[part] = url
        if cid:
            by_cid[cid] = url

    def to_url(match: re.Match[bytes]) -> bytes:
        return by_cid.get(match.group(1).decode("ascii", "replace"), "").encode() or match.group(0)

    archive = Archive(url="", title=_title(message))
    main_location = (message.get("Snapshot-Content-Location") or "").strip()
    for part in parts:
        body = part.get_payload(decode=True) or b""
        if part.get_content_maintype() == "text":
            body = _CID.sub(to_url, body)
        content_type = part.get("Content-Type") or part.get_content_type()
        archive.resources.setdefault(urls[part], Resource(" ".join(content_type.split()), body))
        if not archive.url and part.get_content_type() == "text/html":
            archive.url = urls[part]  # the first HTML part is the document (Chromium writes it first)
        if main_location and (part.get("Content-Location") or "").strip() == main_location:
            archive.url = urls[part]
    if not archive.url:
        raise ArchiveError("no HTML document in the archive")
    return archive


def _title(message: Message) -> str:
    subject = message.get("Subject")
    if not subject:
        return ""
    try:
        return str(make_header(decode_header(subject))).strip()
    except (UnicodeDecodeError, LookupError):
        return str(subject).strip()


def capture_mhtml(page: Page) -> str:
    """The page as an MHTML archive (Chromium's `Page.captureSnapshot`), with what was typed,
    checked and selected recorded as attributes (a snapshot keeps only markup): the archive
    renders as the page looked. Passwords are not recorded."""
    page.evaluate(_RECORD_FORM_STATE)
    session = page.context.new_cdp_session(page)
    try:
        return str(session.send("Page.captureSnapshot", {"format": "mhtml"})["data"])
    finally:
        session.detach()
