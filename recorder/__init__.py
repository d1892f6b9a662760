"""The recorder: turns a person working at their computer into a session folder (docs/session-format.md).

Layout: `inputs` (pynput listeners that only enqueue), `core` (the one processing thread that
turns input into events and decides when to take frames), `frames` (grab + hash, and an encoder
worker that may drop frames but never input), `window` (focused window), `clipboard` (the
CLIPBOARD's text on each copy), `writer` (the crash-safe session folder), `status` (the live
line), `cli` (record.py's arguments)."""
