"""The central side's benches and what only they and the tests start: `station bench
central` (city.py) and `lab`, the collector's ingest and stages, the reports on a city's
day, the load generator of many stations, a private PostgreSQL. For a developer's
machine and a central server: a lane's install (scripts/install-station) leaves this
folder out, and `station bench` then skips central's figures saying why."""
