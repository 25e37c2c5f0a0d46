"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "coprocessor.loihi": "nodes.coprocessors.loihi_node:Loihi",
    "coprocessor.spinnaker": "nodes.coprocessors.spinnaker_node:SpiNNaker",
}
