"""Adapters: the ports the domain declares, implemented for real backends."""
