"""The Docker runtime: every service a container on one network per environment."""
