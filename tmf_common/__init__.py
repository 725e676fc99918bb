"""tmf_common package."""
