"""Event logs in, session-parallel mini-batches out (installed as `zoo.datasets`)."""
