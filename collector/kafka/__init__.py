"""The Kafka transport: receivers publish, a normaliser re-keys by session, processors own partitions."""
