"""Bottom layer: settings, logging, errors, database plumbing and the live store."""
