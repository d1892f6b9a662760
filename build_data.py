#!/usr/bin/env python3
"""Compile recorded sessions into training data: see README.md or `python build_data.py -h`."""

import sys

from toolbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
