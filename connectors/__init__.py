"""Talking to other systems: SOAP (zeep) and REST (httpx) clients, the exchange-table (前置库)
writer, Airflow hooks, the peer registry and field mappings, the delivery outbox and the message log.
"""
