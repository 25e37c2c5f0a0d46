"""The operator console: a live web page for a running graph (`streamer run --ui`)."""
from .attach import UiOptions, attach, loopback

__all__ = ["UiOptions", "attach", "loopback"]
