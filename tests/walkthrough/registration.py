"""The walk-through's registry line. In the gateway it is one line in `INTEGRATIONS`
(integrations/registry.py); kept here, it is registered when this module is imported, by the
ingress (tests/walkthrough/conftest.py) and by the worker (`celery ... worker --include=<this module>`)."""

from integrations.messages import validate_sms
from integrations.registry import IntegrationSpec, register

register("tinysms", IntegrationSpec("tests.walkthrough.tinysms:TinySmsIntegration", messages=validate_sms))
