"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "eeg.file": "drivers.eeg.file_source:FileSource",
    "eeg.brainflow": "drivers.eeg.brainflow_source:BrainFlowSource",
}
