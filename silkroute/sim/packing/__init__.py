"""The FGD packing experiment: arrival-order placement of GPU-sharing pods, nothing departs."""
