"""Cue paradigms: nodes that time the stimuli of a BCI session, emit them as Markers and
drive the console's stimulus page (/stimulus)."""
