"""The custodes command line."""
