"""Speech engines behind small protocols, run in worker processes (DESIGN.md: speech/)."""
