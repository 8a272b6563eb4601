"""The agency dashboard, review and moderation queues, and the follow-up plan (RTL)."""

from survey.web.dashboard import league, mpp_report, queues, views  # noqa: F401  (register on views.bp)
