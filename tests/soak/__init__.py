"""The soak: the function under concurrency, faults and at-least-once delivery (``make soak``)."""
