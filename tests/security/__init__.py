"""Tests behind the claims of SECURITY.md that no other test backs."""
