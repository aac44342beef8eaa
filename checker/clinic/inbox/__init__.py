"""The inbox: one row per case, its filters and pages, and the records it opens."""
