"""Pydantic models of REGOS API requests and results, one module per resource: `schemas.api.<area>.<resource>`.

Request models reject unknown fields (a typo must fail, not vanish); read models ignore unknown
fields (REGOS adds fields over time).
"""
