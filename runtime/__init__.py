"""The stream's runtime: the Faust app, the worker, Kafka readers and producers, topics and
the embedded broker. The model they run lives in :mod:`beatlight.streams` and imports none
of this."""
