-- The short reason of each failed call ("empty body", "HTTP 500", "timeout"), to count failures by.
ALTER TABLE call_errors ADD COLUMN reason VARCHAR;
