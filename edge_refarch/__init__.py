"""edge-refarch: the OpenStack edge reference architecture, as code.

The repository's top-level folders are installed as sub-packages:

* ``edge_refarch.architecture`` -- the model, the requirement catalog, diagrams
* ``edge_refarch.validation`` -- testbed, fault injectors, the CLI
* ``edge_refarch.tempest_plugin`` -- the conformance suite
"""
