"""Tie a test to the requirement(s) it gives a verdict on."""

ATTR = "edge_refarch_requirements"


def requirement(*ids):
    def decorate(fn):
        setattr(fn, ATTR, tuple(getattr(fn, ATTR, ())) + ids)
        return fn
    return decorate


def requirements_of(fn):
    return tuple(getattr(fn, ATTR, ()))


# The [service_available] option that says whether the cloud offers each
# service the requirements exercise (model.yaml names), named as Tempest
# (tempest/config.py ServiceAvailableGroup: glance, nova) and
# heat-tempest-plugin (heat_tempest_plugin/config.py: heat_plugin) and
# telemetry-tempest-plugin (telemetry_tempest_plugin/config.py: gnocchi,
# aodh) name them.
# Keystone is always there.
SERVICE_AVAILABLE = {"glance": "glance", "nova": "nova",
                     "heat": "heat_plugin", "gnocchi": "gnocchi",
                     "aodh": "aodh"}


def missing_services(services, available) -> list[tuple[str, str]]:
    """(service, option) of each of `services` (model.yaml names) that
    the cloud does not offer: `available(option)` (a [service_available]
    option's value, bool) is false. Services without an option (keystone)
    are always there."""
    return [(svc, SERVICE_AVAILABLE[svc]) for svc in services
            if svc in SERVICE_AVAILABLE
            and not available(SERVICE_AVAILABLE[svc])]


def why_unavailable(services, model, available) -> str | None:
    """Why tests exercising `services` (model.yaml names) cannot run on a
    cloud whose [service_available] options `available(option)` gives
    (bool), naming the first missing service by its catalog type; None
    when the cloud offers them all."""
    missing = missing_services(services, available)
    if not missing:
        return None
    svc, opt = missing[0]
    kind = model.services[svc].catalog_type or svc
    return (f"the cloud has no {kind} service "
            f"([service_available] {opt} = false)")
