"""Activity: what a person did in a recorded session, compiled from raw events.

- `typed_text`: produced text and shortcuts from key events.
- `actions`: clicks, drags, scrolls, typing, hotkeys and window switches from raw events.
- `intervals`: cutting a session into activity intervals.
- `frames`: frame loading and the OCR region of a frame (near duplicates: ocr_engines/changes.py).
- `screen`: reading OCR words (the text under the pointer, the text that appeared).
"""
