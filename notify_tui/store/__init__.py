"""The workspace: peewee models and the queries the app needs. Knows nothing of HTTP or Textual."""
