"""Chaos testing for baton: workloads, faults, and checkers that judge the recorded history."""
