"""Pure parsers, one module per source: bytes in, typed records out, no database.

Keeping parsing free of I/O beyond reading the file lets every layout rule be tested on the real
public files in milliseconds, and lets benchmarks time parsing apart from loading.
"""
