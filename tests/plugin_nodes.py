"""A node type as a third-party package would ship it, named in graphs as
"tests.plugin_nodes:Class"."""
from pydantic import Field

from streamer.node import Params, Port, Source
from streamer.streams import SAMPLES


class GroupedSource(Source):
    """A source whose parameters take names the runtime keeps for itself."""

    outputs = {"out": Port(SAMPLES)}

    class Params(Params):
        group: str = Field("a", description="clashes with the runtime's `group`")
        host: str = Field("localhost", description="clashes with the reserved `host`")

    def produce(self):
        return None
