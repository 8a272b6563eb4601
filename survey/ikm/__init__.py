"""The IKM engine: pure Python, numpy and scipy; no Flask, no database."""
