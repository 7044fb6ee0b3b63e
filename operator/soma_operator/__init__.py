"""Soma operator: turns MemorySystem resources into running memory systems."""
