"""A project's own layers, and their specc declarations (see docs/plugins.md)."""
