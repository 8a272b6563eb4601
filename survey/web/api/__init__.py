"""The JSON API under /api/v1: the read API (bearer tokens) and ticket requests from queue
systems (desk API keys)."""
