"""Activity: what a person did in a recorded session, compiled from raw events.

- `models`: the evidence: `Action`, `FrameRef`, `Interval` (what a transcriber reads).
- `typed_text`: produced text and shortcuts from key events.
- `actions`: clicks, drags, scrolls, typing, hotkeys and window switches from raw events.
- `intervals`: cutting a session into activity intervals.
- `session_frames`: frame loading and the OCR region of a frame (near duplicates: ocr_engines/changes.py).
- `screen`: reading OCR words (the text under the pointer, the text that appeared).
- `evidence`: a session's intervals with all of the above bound to them.
"""
