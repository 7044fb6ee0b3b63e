"""One router per surface: health, the reference-compatible endpoints, and /v1."""
