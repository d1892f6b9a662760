"""Web pages as 2D screens: MHTML archives read (mhtml.py) and rendered offline in Chromium with
their interactable elements tagged (render.py, page.js), then OCR'd (pages.py); the records the
web datasets yield (models.py)."""
