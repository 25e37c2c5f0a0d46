"""Node types used only by the runtime tests (named as "tests.runtime_nodes:Class")."""
from pydantic import Field

from streamer.node import Params, Port, Transform
from streamer.streams import ANY


class Boom(Transform):
    """Raises on its n-th message: a node with a bug."""

    inputs = {"in": Port(ANY)}
    outputs = {"out": Port(ANY)}

    class Params(Params):
        after: int = Field(3)

    def start(self) -> None:
        self.seen = 0

    def receive(self, port, msg):
        self.seen += 1
        if self.seen >= self.params.after:
            raise RuntimeError(f"boom at message {self.seen}")
        return msg
