"""TinySMS (`tinysms`): the README's walk-through provider."""

from tests.walkthrough.tinysms.integration import TinySmsIntegration

__all__ = ["TinySmsIntegration"]
