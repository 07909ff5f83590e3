"""envctl's userspace TCP fault proxy (the approach Toxiproxy takes, no NET_ADMIN needed).

``model.py`` holds the shared vocabulary (proxies and toxics, in Toxiproxy's JSON shapes);
``server.py`` runs listeners and fault chains on asyncio; ``api.py`` serves the
Toxiproxy-compatible HTTP control API; ``config.py`` reads the file `envctl proxy serve`
starts from.
"""
