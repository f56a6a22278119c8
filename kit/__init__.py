"""Neutral building blocks shared by the REGOS SDK and the integrations.

Nothing here knows REGOS, a provider, a queue or the ingress: the outcome of an outbound call
(`http_outcome`), Redis clients (`redis`), the cross-process rate limiter and cooldown
(`ratelimit`), encryption of secrets cached in Redis (`secretbox`), the encrypted, fetch-once
token cache (`token_cache`) and secrets out of text that leaves the process (`redaction`).
"""
