"""Turning other tools' descriptions of an environment into blueprints.

``envctl import compose`` is the way in for projects that already have a Docker Compose
file. The pipeline, one module per step::

    compose_file.py     find and read the file: YAML with positions, ``.env``, ${VAR}
                        (compose_vars.py: Compose's interpolation and dotenv format)
    compose_parse.py    normalise it into compose_model.py's frozen dataclasses
                        (compose_fields.py: ports, volumes, durations, sizes, commands)
    compose_convert.py  a blueprint dict, plus a note for everything it could not convert:
                        compose_engines.py (postgres, redis), compose_apps.py (the
                        project's own services; dockerfile.py), compose_ready.py
                        (healthchecks), references.py (``${db.url}`` …), unsupported.py
    blueprint_yaml.py   the blueprint as commented YAML
    compose_import.py   the use case: convert, validate with the real loader, write

Everything a user can get wrong leaves as a located ``ComposeError`` (file, line, key
path and a hint); a note, never an error, is what Compose can say and a blueprint cannot.
"""
