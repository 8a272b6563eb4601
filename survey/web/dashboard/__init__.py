"""The agency dashboard, review and moderation queues, and the follow-up plan (RTL)."""
