"""Pydantic models shared by the ingress, the workers and the integrations. Depends on nothing of ours."""
