"""The `cartwatch` command line (not shipped to Lambda)."""
