"""Tests of the rules engine: hand-built fixes, real trails, batch versus scalar."""
