"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "eeg.file": "drivers.eeg.file_source:FileSource",
    "eeg.synthetic": "drivers.eeg.synthetic:SyntheticEEG",
    "eeg.brainflow": "drivers.eeg.brainflow_source:BrainFlowSource",
    "eeg.lsl": "drivers.eeg.lsl_inlet:LSLInlet",
    "lsl.out": "drivers.eeg.lsl_outlet:LSLOutlet",
}
