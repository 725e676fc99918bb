"""TMF641 Service Ordering (v4.1): serviceOrder and cancelServiceOrder."""
