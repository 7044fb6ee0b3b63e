"""Soma memory runtime: core, adapters, HTTP API and CLI."""
