"""A small Django project for the tests: a shop whose view hands slow mail to Huey."""
