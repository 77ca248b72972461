"""Server-rendered pages: Jinja2 templates, vendored static assets, one zh/en string table.

Pages call the same services as the JSON API and hand the resulting schemas to a template; no
SQL or rules live in views or templates.
"""
