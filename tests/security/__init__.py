"""Tests behind the claims of docs/security.md that no other test backs."""
