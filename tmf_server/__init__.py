"""tmf_server package."""
