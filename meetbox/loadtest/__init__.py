"""``meetbox loadtest``: publishers that loop pre-encoded media, subscribers that count it."""
