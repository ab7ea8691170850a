"""Socket.IO signalling: access tokens, rooms, participants and their events."""
