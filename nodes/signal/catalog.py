"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "signal.filter": "nodes.signal.filter:Filter",
    "signal.pick": "nodes.signal.channels:Pick",
    "signal.reref": "nodes.signal.channels:Reref",
    "signal.project": "nodes.signal.project:Project",
    "signal.window": "nodes.signal.windows:Window",
    "signal.bandpower": "nodes.signal.bandpower:BandPower",
    "signal.resample": "nodes.signal.resample:Resample",
    "signal.encode": "nodes.signal.encode:Encode",
    "signal.epochs": "nodes.signal.windows:Epochs",
    "signal.artifacts": "nodes.signal.artifacts:Artifacts",
}
