"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "signal.filter": "nodes.signal.filter:Filter",
}
