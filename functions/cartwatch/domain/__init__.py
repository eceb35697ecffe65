"""The pure core: BigCommerce webhook models, the cart lifecycle, stages and events.

Nothing in this package does I/O, reads the clock or the environment.
"""
