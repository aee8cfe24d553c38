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
    connectors.feeds      FeedClient(base_url, peer=, auth=Auth("bearer"|"hmac", ...)).page(path, cursor, n)
                          pull_county(db, peer, client, mapping, path=, page_size=) -> PullReport
                          inbound_after(db, peer, after_id) ; read_cursor(session, peer)
    connectors.soap       ProvinceSoapClient(endpoint, username=, password=, timing=, recorder=)
                          .submit_rows / .submit_events / .query_counts / .lookup
    connectors.exchange   ExchangeTableWriter(url, peer=, timing=) (a Deliverer)
    connectors.delivery   SoapDeliverer(client) (a Deliverer)
    connectors.peer_registry  load_registry(path) / registry_for(settings) -> PeerRegistry;
                          map_row(row, mapping) ; endpoint_from_env(conn_id) -> Endpoint
    connectors.hooks      get_connection(conn_id) -> Endpoint; ConnectorHook(peer).get_conn()
    connectors.messagelog MessageLogWriter(db, body_cap=) (a recorder for clients); recent(db, peer)
    connectors.resilience Timing.from_settings(settings.peers); CircuitBreaker; call_with_retry
"""
