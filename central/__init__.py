"""The central side: the reference collector of the MQTT contract, its SQLite and
PostgreSQL event stores (with each station's contiguous seq and presence), and the
reports a district asks for. Runs on a server; imports `contract`, never `station`."""
