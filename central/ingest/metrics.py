"""What a city's operations team watches: the collector's Prometheus metrics.

`natest-central collect --metrics HOST:PORT` serves them at /metrics. Each collector has
a registry of its own (several can run in one process: the tests do). The alert rules a
district would start from are in config/prometheus-alerts.yml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

STATES = ("online", "offline", "lost", "unknown")   # "unknown": events, never a status


class Metrics:
    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry()
        ProcessCollector(registry=reg)   # memory, CPU, open files of the collector
        self.stored = Counter("natest_events_stored", "Events stored for the first time",
                              registry=reg)
        self.duplicates = Counter("natest_events_duplicate",
                                  "Events received again and not stored twice", registry=reg)
        self.quarantined = Counter("natest_messages_quarantined",
                                   "Messages that failed the contract, kept aside",
                                   registry=reg)
        self.replays = Counter("natest_replays_asked", "cmd/replay commands sent to stations",
                               registry=reg)
        self.purged = Counter("natest_events_purged_at_station",
                              "Events a station had purged when asked for: lost for good",
                              registry=reg)
        self.stations = Gauge("natest_stations", "Stations by their last status",
                              ["state"], registry=reg)
        self.gaps = Gauge("natest_gaps_open", "Stations with a gap in their seqs",
                          registry=reg)
        self.oldest_gap = Gauge("natest_gap_oldest_age_seconds",
                                "How long the oldest open gap has been open (0: none)",
                                registry=reg)
        self.missing = Gauge("natest_events_missing",
                             "Events announced (seq, high-water mark) but not stored yet",
                             registry=reg)
        self.held = Gauge("natest_collector_unacknowledged",
                          "Messages received and not yet committed and acknowledged",
                          registry=reg)
        self.write_failures = Counter(
            "natest_database_write_failures",
            "Batch commits the database did not answer (the batch is held and tried again)",
            registry=reg)
        self.batch = Histogram("natest_batch_size", "Messages per commit", registry=reg,
                               buckets=(1, 10, 50, 100, 250, 500, 1000, 2000))
        self.commit = Histogram("natest_commit_seconds", "Time to commit one batch",
                                registry=reg, buckets=(.001, .005, .01, .025, .05, .1, .25,
                                                       .5, 1, 2.5, 5))

    def serve(self, listen: str) -> None:
        """HOST:PORT (":PORT" for every interface)."""
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), host or "0.0.0.0", registry=self.registry)  # noqa: S104

    def presence(self, by_state: dict[str, int]) -> None:
        for state in STATES:
            self.stations.labels(state).set(by_state.get(state, 0))

    def watch_commits(self, longest_s: Callable[[], float], stalls: Callable[[], int]) -> None:
        """The longest wait on the database in progress, and the waits said
        (commit_watch.py), read at each scrape."""
        Gauge("natest_database_commit_wait_seconds",
              "How long the longest commit (or reconnection) in progress has waited: a "
              "database that takes writes but does not commit (0: none waits)",
              registry=self.registry).set_function(longest_s)
        self.registry.register(_Counted("natest_database_commit_stalls",
                                        "Commits said to wait past the deadline (10 s)",
                                        stalls))

    def count_protocol_errors(self, read: Callable[[], int]) -> None:
        """The MQTT client's count of malformed input and callback errors (each ended a
        connection, never the client), read at each scrape."""
        self.registry.register(_Counted("natest_mqtt_protocol_errors",
                                        "Connections ended by malformed input from the "
                                        "broker or an error handling it", read))


class _Counted(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        self.name, self.documentation, self.read = name, documentation, read

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.read())
