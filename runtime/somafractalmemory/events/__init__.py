"""The evented write path: the outbox relay, the indexing consumer, and the pipeline that runs both."""
