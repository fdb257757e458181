"""kubert_cni: the CNI network backends ``cni`` and ``kubenet``, on CNI plugin binaries.

The package registers through the ``kubert`` entry-point group (``kubert_cni.plugin``) and
imports only kubert's public API.
"""
