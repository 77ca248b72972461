"""Adapters for real devices and simulators that replay real data through the real ingestion paths."""
