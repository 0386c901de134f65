"""The collector's own MQTT 5 client: a pure packet codec, the CONNECT it sends, the
queue of what it publishes, and the client on one network thread. Knows nothing of
events, stores or reports."""
