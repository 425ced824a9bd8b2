"""The Kafka transport (``transport.kind: kafka``): receivers publish OTLP as it came, the
normaliser and assembler re-key canonical spans by trace then by session, processor replicas own
session partitions and keep their state in a compacted changelog. README: "Scaling out on Kafka".
"""
