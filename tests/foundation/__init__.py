"""Tests of the platform foundation (core, access, audit, people, API, CLI)."""
