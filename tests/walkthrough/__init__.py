"""The README's "Adding an integration" walk-through, built exactly as it says and run end to end."""
