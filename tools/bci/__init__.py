"""Offline brain-computer-interface baselines built from the streaming signal nodes."""
