"""Free spaces per lot and kind, now and at a future time: computed from the database, kept
hot in the live store, fanned out to listeners."""
