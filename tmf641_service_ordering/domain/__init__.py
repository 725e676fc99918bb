"""TMF641 domain: order states, lifecycles, roll-up and patch rules, free of I/O."""
