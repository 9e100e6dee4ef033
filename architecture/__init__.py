"""The architecture model: tiers, services, links, deployment models.

``load_model()`` is the only reader of ``model.yaml``.
"""

from edge_refarch.architecture.model import (  # noqa: F401
    DEFAULT_MODEL_PATH,
    DeploymentModel,
    LinkClass,
    Model,
    ModelError,
    Service,
    SiteTemplate,
    load_model,
)
