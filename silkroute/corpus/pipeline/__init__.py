"""Pipeline core: stage base classes, the stage registry, config and the executor."""
