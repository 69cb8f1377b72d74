"""Icons and style sheets, installed as ``desktop_app.resources``."""
