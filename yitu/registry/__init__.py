"""一标三实 base registry: standard addresses, real houses, real organisations, and who lives and
works where (real population lives in ``yitu.people``) — every record on the BeiDou grid."""
