"""Connected integrations and their settings."""
