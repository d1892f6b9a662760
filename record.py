#!/usr/bin/env python3
"""Record a person at work into a session folder (docs/session-format.md). See `python record.py --help`."""

import sys

from recorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
