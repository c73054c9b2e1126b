"""Keep the Hugging Face libraries offline.

They read their offline switches from the environment when they are imported, and
there is no other switch: so the backends call ``offline()`` right before importing
them. Every model this tool runs is already on disk; a hub lookup would only fail
slowly (or, on a machine with a network, fetch something nobody asked for).
"""

from __future__ import annotations

import os


def offline() -> None:
    """Set HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE unless the user set them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
