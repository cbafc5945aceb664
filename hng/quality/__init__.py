"""Quality checks of generated images: does each digit still read as its label, and a contact sheet to look.

``readability``: the nearest-neighbour digit classifier; ``verify``: the same reader made fast, for
``verify_labels``; ``fidelity``: label fidelity of a set of images (a dataset's shards, any style);
``contact_sheet``: a grid of images with their labels, to see what was made.
"""
