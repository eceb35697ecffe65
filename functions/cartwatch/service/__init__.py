"""Use cases: intake, processing, sweeping, publishing.  Handlers call these; adapters serve them."""
