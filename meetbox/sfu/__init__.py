"""The forwarding core: RTP moves from publishers to subscribers without decoding."""
