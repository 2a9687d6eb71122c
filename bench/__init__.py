"""`make bench`: the performance floors of issue 5, measured against real processes.

Run it as `python -m bench.run` (see bench/README.md). Nothing here is imported by the exporter.
"""
