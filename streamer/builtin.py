"""The runtime's own node types."""

CATALOG: dict[str, str] = {
}
