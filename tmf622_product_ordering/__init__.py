"""TMF622 Product Ordering (v4): productOrder and cancelProductOrder."""
