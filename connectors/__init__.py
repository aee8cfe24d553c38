"""Talking to other systems: SOAP (zeep) and REST (httpx) clients, the exchange-table (前置库)
writer, Airflow hooks, the peer registry and field mappings, the delivery outbox and the message log.

Modules are imported by their own name (nothing heavy is imported here). Public API::

    connectors.errors     ConnectorError tree (RetryableError / PermanentError …), translate(exc, ...)
    connectors.outbox     enqueue_rows(session, peer, rows) -> int
                          enqueue_events(db, peer, kinds=None) -> int
                          claim(db, peer, cfg) -> Batch | None; deliver_batch(db, batch, deliverer, cfg)
                          deliver(db, peer, deliverer, cfg, max_seconds=600) -> DeliveryReport
                          reconcile(db, peer, deliverer, repair=True) -> ReconcileReport
                          list_rows / summary / replay(db, id) / release(db, id, reason)
                          OutboxConfig.from_settings(settings.peers)
    connectors.pull       pull_county(db, peer, client, page_size=500, max_pages=None) -> PullReport
                          inbound_rows(db, peer, after_id) ; current_cursor(db, peer)
    connectors.soap       ProvinceSoapClient(endpoint, username=, password=, timing=, recorder=)
                          .submit_rows / .submit_events / .query_counts / .lookup
    connectors.rest       RestClient(base_url, peer=, auth=Auth(...), timing=) .page(path, cursor, limit)
    connectors.exchange   ExchangeTableWriter(url, peer=, timing=) (a Deliverer)
    connectors.delivery   SoapDeliverer(client) (a Deliverer)
    connectors.registry   load_registry(path) / parse_registry(doc) -> Registry; PeerConfig.map_row(row)
    connectors.hooks      get_connection(conn_id) -> ConnInfo; ConnectorHook(peer).get_conn()
    connectors.messagelog MessageLogWriter(db, body_cap=) (a recorder for clients); recent(db, peer)
    connectors.resilience Timing.from_settings(settings.peers); CircuitBreaker; call_with_retry
"""
