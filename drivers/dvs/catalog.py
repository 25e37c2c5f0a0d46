"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "dvs.synthetic": "drivers.dvs.synthetic:SyntheticCamera",
    "dvs.file": "drivers.dvs.sources:FileCamera",
    "dvs.camera": "drivers.dvs.sources:Camera",
    "dvs.network": "drivers.dvs.sources:NetworkInput",
}
