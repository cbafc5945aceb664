"""The document stage: how a composed number is inked, warped, sized and coloured (see options.py)."""
