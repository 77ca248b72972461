"""What devices report: plate reads at the gates (which open and close sessions and check in
bookings), in-space occupancy, and the flags an operator reviews."""
