"""Diagram sources: the topology (rendered from the model) and the Keystone
and Glance flows (Mermaid)."""
