"""`distill serve`: one process that owns the store, runs stages as jobs and answers SQL and the dashboard."""
