"""Soma memory runtime: core, adapters, HTTP API and CLI."""

__version__ = "0.1.0"
