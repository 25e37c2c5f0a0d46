"""Drive nodes directly in tests, without processes or sockets."""
from __future__ import annotations

import collections
from typing import Iterable

from .node import EndOfStream, Node, Source, Transform, emitted
from .streams import Message


def feed(node: Transform, messages: Iterable[Message | tuple[str, Message]],
         finish: bool = True) -> dict[str, list[Message]]:
    """Send messages to a started transform or sink; return what it emitted, by port.

    Items are messages (for the port 'in') or (port, message) pairs.
    """
    out: dict[str, list[Message]] = collections.defaultdict(list)
    for item in messages:
        port, msg = item if isinstance(item, tuple) else ("in", item)
        for p, m in emitted(node, node.receive(port, msg)):
            out[p].append(m)
    if finish:
        for p, m in emitted(node, node.finish()):
            out[p].append(m)
    return dict(out)


def drain(source: Source, max_messages: int | None = None,
          max_calls: int = 10_000_000) -> dict[str, list[Message]]:
    """Call a started source's produce() until it ends (or max_messages were emitted)."""
    out: dict[str, list[Message]] = collections.defaultdict(list)
    total = 0
    for _ in range(max_calls):
        try:
            produced = source.produce()
        except EndOfStream:
            break
        for p, m in emitted(source, produced):
            out[p].append(m)
            total += 1
        if max_messages is not None and total >= max_messages:
            break
    return dict(out)


def run(node: Node, *args, **kwargs) -> dict[str, list[Message]]:
    """start(), then drain or feed, then stop()."""
    node.start()
    try:
        if isinstance(node, Source):
            return drain(node, *args, **kwargs)
        return feed(node, *args, **kwargs)
    finally:
        node.stop()
