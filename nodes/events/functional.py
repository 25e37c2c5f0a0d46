"""The event kernels as plain functions on arrays of streamer.streams.EVENT_DTYPE, for
offline use (tonic.functional's role): one call over a whole recording, the keyword
parameters named and in the units of the node's, a new array returned and the input left
unchanged. Each node is a thin shell over the same function, or over its state object
(`*State`, called chunk after chunk) for the filters that carry state across chunks.

    from nodes.events.functional import denoise, bin_events
    kept = denoise(events, width=320, height=240, window_us=2000)
    frames, t_first_us = bin_events(kept, width=320, height=240, bin_us=1000, shape=(2, 60, 80))
"""
from .bin import bin_events
from .denoise import DenoiseState, denoise
from .downsample import DownsampleState, downsample
from .flip import flip
from .hotpixels import HotPixelsState, hotpixels
from .polarity import polarity
from .ratelimit import RateLimitState, ratelimit
from .refractory import RefractoryState, refractory
from .roi import roi

__all__ = ["bin_events", "denoise", "DenoiseState", "downsample", "DownsampleState", "flip", "hotpixels",
           "HotPixelsState", "polarity", "ratelimit", "RateLimitState", "refractory", "RefractoryState", "roi"]
