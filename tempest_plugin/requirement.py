"""Tie a test to the requirement(s) it gives a verdict on."""

ATTR = "edge_refarch_requirements"


def requirement(*ids):
    def decorate(fn):
        setattr(fn, ATTR, tuple(getattr(fn, ATTR, ())) + ids)
        return fn
    return decorate


def requirements_of(fn):
    return tuple(getattr(fn, ATTR, ()))
