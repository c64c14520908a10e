"""Every lint rule; each module registers its rules on import."""
