"""MaaS trip planning: drive + park + walk + transit."""
