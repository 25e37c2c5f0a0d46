"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "snn.infer": "nodes.snn.infer_node:Infer",
    "snn.score": "nodes.snn.score:Score",
}
