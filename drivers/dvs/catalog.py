"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "dvs.synthetic": "drivers.dvs.synthetic:SyntheticCamera",
}
