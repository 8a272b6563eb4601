"""Auditor pages: exports, the public signing key, the audit log."""
