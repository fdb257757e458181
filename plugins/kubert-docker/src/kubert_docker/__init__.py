"""kubert_docker: the Docker runtime and image backends (dockershim / cri-dockerd conventions).

The plugin module is :mod:`kubert_docker.plugin`; it imports only kubert's public API and
loads the docker SDK lazily, inside the backends.
"""
