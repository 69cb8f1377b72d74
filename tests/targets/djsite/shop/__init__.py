"""The shop app: orders, and the background jobs a shop sends to a queue."""
