"""Execution back ends: one module per engine behind the one interface in `base`."""
