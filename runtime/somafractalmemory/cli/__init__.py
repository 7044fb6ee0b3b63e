"""The ``soma`` command line: serve the API, work with memories (embedded or over HTTP), benchmark."""
