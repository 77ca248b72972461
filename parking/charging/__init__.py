"""EV charging: charge points on spaces, their connectors, charging sessions billed by energy."""
