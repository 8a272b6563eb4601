"""Results: sufficient statistics from the rollups (or raw rows for checks), populations,
the engine run over them, and what the dashboard, the public page and the exports show."""
