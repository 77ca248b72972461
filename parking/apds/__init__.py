"""Open data in APDS form (Alliance for Parking Data Standards, ISO/TS 5206-1): lots and spaces as
Place hierarchy elements, tariffs as rate tables, live occupancy, and sessions with the plate only
as its keyed hash."""
