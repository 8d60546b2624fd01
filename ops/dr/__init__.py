"""Disaster recovery: the Aurora global database's switchover and failover, the edge's
pools, and a local drill that proves the runbook on real PostgreSQL (`ops dr ...`)."""
