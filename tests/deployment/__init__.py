"""Checks of the deployment files (images, compose, Kubernetes): plain and fast, no servers."""
