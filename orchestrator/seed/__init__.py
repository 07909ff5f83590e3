"""Data-volume seeding. Today: schema files; row generation arrives with its own issue."""
