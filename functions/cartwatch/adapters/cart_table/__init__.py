"""The cart store on DynamoDB: carts in the cartwatch table, the due and listing indexes.

``store`` is the adapter the services use (reads, and one request per write plan);
``attributes`` spells the item layout, ``items`` converts records to and from items,
``rendering`` turns a write plan into its request, ``due_index`` and ``listing`` query the
two indexes, ``erasure`` writes tombstones and purges a store's carts.
"""
