"""GNSS: NMEA/RTCM ingestion, positioning kernels (NumPy), NTRIP."""
