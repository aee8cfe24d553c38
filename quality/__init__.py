"""Data quality at every hop: great-expectations suites generated from the contracts, the split
of a batch into curated / held / quarantined rows, HTML reports and signed receipts.
"""
