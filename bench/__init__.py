"""Benchmarks: counted AWS and BigCommerce calls, items read, write units, import times."""
