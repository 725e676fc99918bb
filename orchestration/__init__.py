"""The orchestration engine: catalog-driven decomposition, fulfilment plans of tasks, and the engine that runs them."""
