#!/usr/bin/env python3
"""Compile recorded sessions into training data: see README.md or `python build_data.py -h`."""

from toolbox.cli import main
from toolbox.core.memory import exit_without_final_collection

if __name__ == "__main__":
    exit_without_final_collection(main())
