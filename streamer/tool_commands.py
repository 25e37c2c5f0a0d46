"""`streamer train` and `streamer calibrate`: the training and calibration tools (the
installed `tools` package) under the one command. Each keeps its own arguments and help;
the tools are imported only when asked for, so the runtime never needs them (or PyTorch)."""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module with main(argv, prog), one-line help)
TOOLS = {
    "train": ("tools.train.__main__", "train a spiking network (PyTorch) and export it to NIR"),
    "calibrate": ("tools.calibrate.__main__", "calibrate early exit (temperature, threshold) on labelled samples"),
    "session": ("tools.session.__main__", "run a BCI session's protocol: calibration, fit, online runs"),
}


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """List the tools in `streamer --help`; their arguments are parsed by the tools."""
    for name, (_, summary) in TOOLS.items():
        sub.add_parser(name, help=summary, add_help=False)


def run(name: str, argv: list[str]) -> int:
    module_name = TOOLS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"streamer {name}: cannot import {module_name} ({exc}); install the project with "
              f"`pip install -e .` (and `.[train]` for PyTorch)", file=sys.stderr)
        return 2
    return module.main(argv, prog=f"streamer {name}")
