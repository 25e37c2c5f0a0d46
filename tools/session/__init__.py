"""BCI sessions: a protocol of phases (calibration, fit, online runs) run in order."""
