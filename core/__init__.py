"""The shared runtime of tongban: settings, database engine and ORM base, audit ledger, key store,
failpoints, domain events, object store, timestamp client and logging. Imports only ``contracts``.
"""
