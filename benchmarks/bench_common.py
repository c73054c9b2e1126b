"""Small pieces every benchmark script shares: argument types and printing figures."""

from __future__ import annotations

import argparse
import json
from typing import Mapping


def positive(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} must be at least 1")
    return number


def print_figures(figures: Mapping[str, object], as_json: bool) -> None:
    """One JSON object, or one ``name: value`` line per figure."""
    if as_json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
