"""`streamer session PROTOCOL --subject S --session N`: a BCI session's phases in order."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console

from .protocol import ProtocolError, load_protocol
from .run import Session


def main(argv: list[str] | None = None, prog: str = "python -m tools.session") -> int:
    ap = argparse.ArgumentParser(prog=prog, description="Run a session protocol's phases (calibration, fit, "
                                 "online runs) in order. Exit status 0: every phase ran; else the status of "
                                 "the phase that stopped the session (2: invalid protocol or graph).")
    ap.add_argument("protocol", help="protocol file (YAML)")
    ap.add_argument("--subject", required=True, help="subject label (BIDS sub-)")
    ap.add_argument("--session", required=True, help="session label (BIDS ses-)")
    ap.add_argument("--root", type=Path, help="folder of the sessions (default: the protocol's `root`)")
    ap.add_argument("--from", dest="start_from", metavar="PHASE", help="start at this phase (skip those before)")
    ap.add_argument("--decoder", type=Path, help="decoder file to use (an earlier session's; a fit phase "
                    "overwrites it)")
    ap.add_argument("--pause", action="store_true", help="wait for Enter before each phase after the first")
    ap.add_argument("--ui", action="store_true", help="the operator console: the session page shows the "
                    "phases and starts the next one; each phase's graph has its console below it")
    ap.add_argument("--ui-port", type=int, default=8765, help="port of the session page (the graph's "
                    "console is on the next port)")
    ap.add_argument("--no-live", action="store_true", help="no live table during the phases")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    console = Console(stderr=True)
    for label, value in (("subject", args.subject), ("session", args.session)):
        if not value.isalnum():
            console.print(f"[red]--{label} {value!r}: BIDS labels are letters and digits only[/]")
            return 2
    try:
        protocol = load_protocol(args.protocol)
    except ProtocolError as exc:
        print(f"  {exc}", file=sys.stderr)
        return 2
    if args.root:
        protocol.root = args.root.resolve()
    session = Session(protocol, args.subject, args.session, decoder=args.decoder, start_from=args.start_from)
    page = None
    if args.ui:
        from .page import SessionPage
        page = SessionPage(session, "127.0.0.1", args.ui_port)
        page.start()
        console.print(f"session page: http://127.0.0.1:{args.ui_port}/", highlight=False)
        session.ui = {"host": "127.0.0.1", "port": args.ui_port + 1}
        session.wait = page.wait
    elif args.pause:
        def wait(phase, k) -> bool:
            try:
                input(f"phase {k + 1}: {phase.name}. Enter to start it (Ctrl-D to stop the session) ")
                return True
            except EOFError:
                return False
        session.wait = wait
    try:
        return session.run(console, live=False if args.no_live else None)
    finally:
        if page is not None:
            page.stop()


if __name__ == "__main__":
    sys.exit(main())
