"""Redis storage for what Huey Desk keeps beside a Redis-backed Huey (the journal first)."""
