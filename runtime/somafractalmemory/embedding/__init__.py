"""Embedders: turn text into L2-normalised vectors."""
