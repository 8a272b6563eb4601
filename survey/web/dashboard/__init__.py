"""The agency dashboard, review and moderation queues, and the follow-up plan (RTL)."""

from survey.web.dashboard import queues, views  # noqa: F401  (both register on views.bp)
