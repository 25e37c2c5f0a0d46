"""CURVE on tcp sockets: keys, the allow-list and the count of refused peers.

Every tcp inbox is a CURVE server with its host's key; every sender is a CURVE client
with its own host's key and the receiver's public key. A ZAP handler (pyzmq's
ThreadAuthenticator) admits only the graph's public keys, so a process without them can
neither read an edge nor put a message on it: its handshake fails before any frame
reaches the node, and a socket monitor counts each refused handshake (keyless, unknown
key, wrong server key). ipc sockets stay in the run directory, which only the user can
open.

Key files are pyzmq's (`zmq.auth.create_certificates`): NAME.key holds the public key,
NAME.key_secret both (mode 0600).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

ZAP_DOMAIN = "streamer"
REFUSED_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                  | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


@dataclass(frozen=True)
class KeyPair:
    public: str  # z85 text
    secret: str

    def as_dict(self) -> dict[str, str]:
        return {"public": self.public, "secret": self.secret}


def make_keys(folder: str | os.PathLike, names: list[str], overwrite: bool = False) -> list[Path]:
    """A key pair per name in `folder` (NAME.key, NAME.key_secret); an existing pair is kept
    unless `overwrite`. Returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
        if secret.exists() and not overwrite:
            continue
        old = os.umask(0o077)  # the secret is never readable by others, not even for a moment
        try:
            pub, sec = zmq.auth.create_certificates(str(folder), name)
        finally:
            os.umask(old)
        os.chmod(sec, 0o600)
        os.chmod(pub, 0o644)
        written += [Path(pub), Path(sec)]
    return written


def public_key(folder: str | os.PathLike, name: str) -> str:
    pub, _ = zmq.auth.load_certificate(os.path.join(folder, f"{name}.key"))
    return pub.decode()


def key_pair(folder: str | os.PathLike, name: str) -> KeyPair:
    """NAME's pair from NAME.key_secret, with a message that says what to do if absent."""
    path = os.path.join(folder, f"{name}.key_secret")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no secret key {path}: make it on this machine with "
                                f"`streamer keys {folder} {name}`")
    pub, sec = zmq.auth.load_certificate(path)
    if sec is None:
        raise ValueError(f"{path} holds no secret key")
    return KeyPair(pub.decode(), sec.decode())


def ephemeral() -> KeyPair:
    pub, sec = zmq.curve_keypair()
    return KeyPair(pub.decode(), sec.decode())


def server(sock: zmq.Socket, keys: dict) -> None:
    """Make the next bind of `sock` a CURVE server with `keys` (public, secret)."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys["public"].encode())
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys["secret"].encode())
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode())


def plain(sock: zmq.Socket) -> None:
    """Back to no mechanism for the next bind (an ipc endpoint after a tcp one)."""
    sock.setsockopt(zmq.CURVE_SERVER, 0)


def client(sock: zmq.Socket, keys: dict, server_key: str) -> None:
    """Make the next connect of `sock` a CURVE client with `keys` to a server `server_key`."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_key.encode())
    sock.setsockopt(zmq.CURVE_PUBLICKEY, keys["public"].encode())
    sock.setsockopt(zmq.CURVE_SECRETKEY, keys["secret"].encode())


class _AllowList:
    def __init__(self, keys: list[str]) -> None:
        self.keys = {k.encode() if isinstance(k, str) else k for k in keys}

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


class Refusals:
    """Refused handshakes on one socket, read from its monitor (by one thread)."""

    def __init__(self, sock: zmq.Socket) -> None:
        self.monitor = sock.get_monitor_socket(REFUSED_EVENTS)
        self.total = 0

    def count(self) -> int:
        if self.monitor is None:
            return self.total
        while True:
            try:
                self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return self.total
            self.total += 1

    def close(self) -> None:
        if self.monitor is not None:
            self.count()
            self.monitor.close(0)
            self.monitor = None


class Guard:
    """The ZAP handler of one ZeroMQ context: admits the public keys in `allow`."""

    def __init__(self, ctx: zmq.Context, allow: list[str]) -> None:
        self.auth = ThreadAuthenticator(ctx)
        self.auth.start()
        self.auth.configure_curve_callback(ZAP_DOMAIN, _AllowList(allow))

    def close(self) -> None:
        self.auth.stop()
