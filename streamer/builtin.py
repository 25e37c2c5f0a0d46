"""Node types that ship with the runtime: test sources, logging, recording and replay."""

CATALOG: dict[str, str] = {
    "util.counter": "streamer.util_nodes:Counter",
    "util.log": "streamer.util_nodes:Log",
    "util.delay": "streamer.util_nodes:Delay",
    "record": "streamer.record_nodes:Record",
    "replay": "streamer.record_nodes:Replay",
    "console": "streamer.console.node:Console",
}
