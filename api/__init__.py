"""The HTTP ingress: validates REGOS and provider calls and enqueues them. No REGOS or provider I/O."""
