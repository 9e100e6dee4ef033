"""The edge-refarch Tempest plugin: the architecture's user stories as
conformance tests, one requirement ID per behaviour."""
