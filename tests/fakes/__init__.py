"""Fakes of REGOS and the providers: real HTTP servers on 127.0.0.1."""
