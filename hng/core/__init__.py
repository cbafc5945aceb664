"""Pure generation: parameters and their rules, seeding, layout, the generator, its results, PNG, ids.

Nothing here does I/O beyond reading the MNIST data it is given; every function maps arrays and a seeded
stream to arrays.
"""
