"""Users, roles, API tokens, permissions and the change log."""
