"""The Kubernetes runtime (``runtime.py``): one namespace per environment."""
