"""Per-digit augmentation with albumentations: the presets, the Augmenter, and hng's own transforms.

`albu` is the one module that imports albumentations (it turns off its update check first).
"""
