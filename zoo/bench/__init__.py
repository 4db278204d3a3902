"""Benchmarks (`zoo bench`): the input pipeline, training, serving latencies, the load test, TFLite
quantization, export parity, and all of them at once (`suite`). Each returns a dict of figures."""
