"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "events.denoise": "nodes.events.denoise:Denoise",
    "events.refractory": "nodes.events.refractory:Refractory",
    "events.hotpixels": "nodes.events.hotpixels:HotPixels",
    "events.roi": "nodes.events.roi:Roi",
    "events.polarity": "nodes.events.polarity:Polarity",
    "events.downsample": "nodes.events.downsample:Downsample",
    "events.flip": "nodes.events.flip:Flip",
    "events.ratelimit": "nodes.events.ratelimit:RateLimit",
    "events.bin": "nodes.events.bin:Bin",
}
