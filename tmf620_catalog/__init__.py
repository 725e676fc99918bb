"""tmf620_catalog package."""
