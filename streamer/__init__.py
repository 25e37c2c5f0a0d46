"""streamer: real-time streaming graphs for event cameras, EEG and spiking neural networks."""
__version__ = "0.1.0"
