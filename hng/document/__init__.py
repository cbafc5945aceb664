"""The document stage: geometry, styles and encodings that turn a composed strip into a document image."""
