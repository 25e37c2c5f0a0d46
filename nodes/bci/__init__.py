"""Brain-computer-interface decoders: trained or calibrated on the stream, emitting Decisions."""
