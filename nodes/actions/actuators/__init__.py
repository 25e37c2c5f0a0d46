"""Sinks that send commands to the world: ZeroMQ, UDP, OSC, serial ports, the log."""
