"""kubert_inplace: in-place container upgrades for the kubelet side (OpenKruise's
InPlaceIfPossible at node level). The plugin module is :mod:`kubert_inplace.plugin`."""
