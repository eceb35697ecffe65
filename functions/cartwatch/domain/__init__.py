"""The pure core: webhooks, the cart lifecycle, stages, the cart as stored, write plans and events.

Nothing in this package does I/O, reads the clock or the environment.  The ports the
services keep state behind are defined here too (``cart_store.CartStore``,
``listing.ListingIndex``); adapters implement them.
"""
