"""The `avatar-app` command line."""
