"""Helpers the test suites share: real servers started on 127.0.0.1 for the integration tier."""
