"""A delaying TCP relay, for tests on kernels without `netem`:

    python -m tests.delay_relay --listen 10.77.0.12 --to 10.77.0.2 --ports 6001 6002 \\
        --delay-ms 2 --jitter-ms 0.5 --loss 0.01

Each byte read from one side is written to the other `delay` later (± jitter, never out of
order). `--loss` emulates lost segments as TCP experiences them, since a relay cannot
drop bytes of a TCP stream: that fraction of the reads is held for TCP's minimum
retransmission timeout (200 ms on Linux) and everything behind it waits (head-of-line
blocking), which is what a receiver sees when a segment is lost and sent again.
"""
from __future__ import annotations

import argparse
import random
import socket
import sys
import threading
import time
from collections import deque

RTO_S = 0.2


class DelayLine:
    def __init__(self, src: socket.socket, dst: socket.socket, delay_s: float, jitter_s: float,
                 loss: float, rng: random.Random) -> None:
        self.src, self.dst = src, dst
        self.delay_s, self.jitter_s, self.loss, self.rng = delay_s, jitter_s, loss, rng
        self.queue: deque = deque()
        self.cond = threading.Condition()
        self.closed = False

    def read(self) -> None:
        last_due = 0.0
        while True:
            try:
                data = self.src.recv(65536)
            except OSError:
                data = b""
            t = time.monotonic()
            due = t + self.delay_s + self.rng.uniform(-self.jitter_s, self.jitter_s)
            if data and self.rng.random() < self.loss:
                due += RTO_S
            last_due = max(last_due, due)  # never reorder a byte stream
            with self.cond:
                self.queue.append((last_due, data))
                self.cond.notify()
            if not data:
                return

    def write(self) -> None:
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                due, data = self.queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                if not data:
                    self.dst.shutdown(socket.SHUT_WR)
                    return
                self.dst.sendall(data)
            except OSError:
                return


def serve(listen: str, to: str, port: int, args: argparse.Namespace) -> None:
    server = socket.create_server((listen, port), reuse_port=False)
    rng = random.Random(port)
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection((to, port), timeout=5)
        except OSError:
            client.close()
            continue
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for a, b in ((client, upstream), (upstream, client)):
            line = DelayLine(a, b, args.delay_ms / 1e3, args.jitter_ms / 1e3, args.loss, rng)
            threading.Thread(target=line.read, daemon=True).start()
            threading.Thread(target=line.write, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--ports", type=int, nargs="+", required=True)
    p.add_argument("--delay-ms", type=float, default=2.0)
    p.add_argument("--jitter-ms", type=float, default=0.5)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--seconds", type=float, default=300.0, help="exit after this long (bounded by design)")
    args = p.parse_args(argv)
    for port in args.ports:
        threading.Thread(target=serve, args=(args.listen, args.to, port, args), daemon=True).start()
    print("ready", flush=True)
    time.sleep(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
