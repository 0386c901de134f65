"""What SQLite and PostgreSQL each say their own way, written out whole for each.

The shared store (event_store.py, lab_tables.py) runs a statement by its name here; each
dialect's text is the one its database runs, as it reads: no text is rewritten at run
time. The dialects differ in placeholders (`?`, `%s`), the larger of two values (SQLite's
`max`, PostgreSQL's `GREATEST`), how a payload comes back as text (PostgreSQL's `json`
column is cast), the day each event's partition is chosen by (PostgreSQL: the `{first}`
and `{last}` of a window, composed by pg.py with psycopg's `sql`), and column types.
Statements that are the same in both are plain constants below.
"""

from __future__ import annotations

from dataclasses import dataclass

# With one `{ids}` for an IN list, filled with a dialect's placeholders (Dialect.marks).
TUBE_STATES = ("SELECT subject, type FROM events WHERE subject IN ({ids}) AND type IN "
               "('tube.opened', 'tube.sealed', 'tube.voided')")
RESULTS_OF = ("SELECT tube, lab, tested_at, result, ct_orf1ab, ct_n FROM results "
              "WHERE tube IN ({ids})")
TUBE_SPANS = ("SELECT site, station, seq, subject FROM events WHERE subject IN ({ids}) "
              "AND type IN ('tube.opened', 'tube.sealed', 'tube.voided', 'tube.released')")
RECEIPTS_OF = "SELECT box, lab, tubes, received_at FROM receipts WHERE box IN ({ids})"
# The tubes of received boxes (box_tubes.py): every one, by box; those scanned at a desk,
# by box or by tube (which box a tube was scanned out of).
RECEIVED_TUBES = "SELECT box, tube, scanned FROM receipt_tubes WHERE box IN ({ids})"
SCANNED_WHERE = "SELECT tube, box FROM receipt_tubes WHERE scanned AND tube IN ({ids})"

PRESENCE = ("SELECT coalesce(state, 'unknown'), count(*) FROM stations "
            "GROUP BY coalesce(state, 'unknown')")
FORM_DATA = "SELECT serial, id_number, name, id_type, person_jwe, phone FROM form_data"
AWAITING_RECALL = ("SELECT result, imported_at FROM results WHERE recalled_at IS NULL "
                   "AND result <> 'negative'")
COUNTS = {"events": "SELECT count(*) FROM events",
          "stations": "SELECT count(*) FROM stations",
          "quarantine": "SELECT count(*) FROM quarantine",
          "form_data": "SELECT count(*) FROM form_data",
          "results": "SELECT count(*) FROM results",
          "receipts": "SELECT count(*) FROM receipts",
          "receipt_tubes": "SELECT count(*) FROM receipt_tubes",
          "document_index": "SELECT count(*) FROM document_index"}


@dataclass(frozen=True)
class Dialect:
    """One dialect's column types and its text of each statement the shared code runs."""

    name: str
    placeholder: str
    # Column types, by what a column holds (the migrations' `{integer}`, …).
    types: dict[str, str]

    # The collector's write: quarantine, a station's progress and presence.
    quarantine: str
    station: str        # a station's progress row, if it has none
    walk: str           # a station's stored seqs beyond its contiguous prefix
    high_water: str     # the highest seq a status announced only grows
    status: str         # a status, unless older than the one the row holds
    gaps: str
    missing: str
    import_forms: str
    # Events in (site, station, seq) order: all, or a window's (synced by their `ts`,
    # unsynced by when central received them), each for every site or one.
    events: str
    events_of_site: str
    synced: str
    synced_of_site: str
    unsynced: str
    unsynced_of_site: str
    # What labs send back (lab_tables.py).
    tubes_to_recall: str
    add_result: str
    mark_recalled: str
    span_events: str    # a station's events between two seqs, and when central received
    # each whose station's clock was unset (NULL for the others)
    boxes_at: str
    boxes_closed: str   # with one `{ids}`: the box.closed events of these boxes
    receipts_between: str
    add_receipt: str
    in_transit: str
    # The tubes of each box received (box_tubes.py): one added (resulted already if a
    # result for it is stored), the packed ones a desk's scan replaces, those a result
    # came for (with one `{ids}`), and per lab the received ones waiting for a result.
    add_receipt_tube: str
    drop_packed: str
    mark_resulted: str
    results_waiting: str
    results_by_lab: str   # per lab and verdict, the results tested in a window
    # The tubes of the boxes received in a window, each with its first result's test
    # time (NULL: none yet): report labs' one read of a day's hundreds of thousands.
    received_results: str
    # A box's own events, and its tubes' sealing (with one `{ids}`): a box's manifest,
    # each with when central received it where the station's clock was unset.
    box_events: str
    tubes_sealed: str
    sealed_between: str
    dispatched_between: str
    # The follow-up of a pool's people (reports/followup.py): each tube's opening (with
    # one `{ids}`), and the single tubes (pool_size 1) opened since a time, by the
    # station's clock (on the index events_singles, whose condition this says word for
    # word) or, where it was unset, by when central received the opening (on
    # events_unsynced).
    tubes_opened: str
    singles_since: str

    def marks(self, n: int) -> str:
        """n placeholders, for a list of n values."""
        return ", ".join([self.placeholder] * n)


SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    types={"integer": "INTEGER", "real": "REAL", "moment": "TEXT", "blob": "BLOB",
           "flag": "INTEGER"},
    quarantine="INSERT INTO quarantine VALUES (?, ?, ?, ?)",
    station="INSERT INTO stations(site, station) VALUES (?, ?) ON CONFLICT DO NOTHING",
    walk="SELECT DISTINCT seq FROM events WHERE site = ? AND station = ? AND seq > ? "
         "ORDER BY seq",
    high_water="UPDATE stations SET last_seq = max(last_seq, ?) WHERE site = ? AND station = ?",
    status="UPDATE stations SET state = ?, connection = ?, session = ?, status_at = ? "
           "WHERE site = ? AND station = ? AND connection <= ?",
    gaps="SELECT s.site, s.station, s.contiguous + 1, "
         "coalesce((SELECT min(e.seq) FROM events e WHERE e.site = s.site "
         " AND e.station = s.station AND e.seq > s.contiguous) - 1, s.last_seq) "
         "FROM stations s WHERE max(s.max_seq, s.last_seq) > s.contiguous",
    missing="SELECT coalesce(sum(max(max_seq, last_seq) - contiguous), 0) "
            "- (SELECT count(*) FROM events e JOIN stations s ON e.site = s.site "
            "AND e.station = s.station AND e.seq > s.contiguous) FROM stations",
    import_forms="INSERT INTO form_data (serial, id_number, name, phone, id_type, "
                 "person_jwe, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (serial) "
                 "DO UPDATE SET id_number = excluded.id_number, name = excluded.name, "
                 "phone = excluded.phone, id_type = excluded.id_type, "
                 "person_jwe = excluded.person_jwe, imported_at = excluded.imported_at",
    events="SELECT payload FROM events ORDER BY site, station, seq",
    events_of_site="SELECT payload FROM events WHERE site = ? ORDER BY site, station, seq",
    synced="SELECT site, station, seq, payload, NULL FROM events "
           "WHERE NOT unsynced AND ts >= ? AND ts < ? "
           "ORDER BY site, station, seq",
    synced_of_site="SELECT site, station, seq, payload, NULL FROM events "
                   "WHERE NOT unsynced AND ts >= ? AND ts < ? AND site = ? "
                   "ORDER BY site, station, seq",
    unsynced="SELECT site, station, seq, payload, received_at FROM events "
             "WHERE unsynced AND received_at >= ? AND received_at < ? "
             "ORDER BY site, station, seq",
    unsynced_of_site="SELECT site, station, seq, payload, received_at FROM events "
                     "WHERE unsynced AND received_at >= ? AND received_at < ? AND site = ? "
                     "ORDER BY site, station, seq",
    tubes_to_recall="SELECT DISTINCT tube FROM results WHERE tested_at >= ? AND tested_at < ? "
                    "AND result <> 'negative'",
    add_result="INSERT INTO results (tube, lab, tested_at, result, ct_orf1ab, ct_n, source, "
               "imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    mark_recalled="UPDATE results SET recalled_at = ? WHERE tube = ? AND lab = ? "
                  "AND tested_at = ? AND recalled_at IS NULL",
    span_events="SELECT payload, CASE WHEN unsynced THEN received_at END FROM events "
                "WHERE site = ? AND station = ? "
                "AND seq BETWEEN ? AND ? ORDER BY seq",
    boxes_at="SELECT seq, payload FROM events WHERE site = ? AND station = ? "
             "AND type IN ('box.closed', 'box.dispatched') ORDER BY seq",
    boxes_closed="SELECT payload FROM events WHERE subject IN ({ids}) AND type = 'box.closed'",
    receipts_between="SELECT box, lab, tubes, received_at FROM receipts WHERE "
                     "received_at >= ? AND received_at < ? ORDER BY received_at",
    add_receipt="INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?)",
    in_transit="SELECT subject, ts FROM events WHERE type = 'box.dispatched' AND ts >= ? "
               "AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.box = events.subject)",
    add_receipt_tube="INSERT INTO receipt_tubes (box, tube, scanned, lab, received_at, "
                     "resulted_at) VALUES (?, ?, ?, ?, ?, "
                     "(SELECT min(imported_at) FROM results WHERE tube = ?)) "
                     "ON CONFLICT DO NOTHING",
    drop_packed="DELETE FROM receipt_tubes WHERE box = ? AND NOT scanned",
    mark_resulted="UPDATE receipt_tubes SET resulted_at = ? WHERE resulted_at IS NULL "
                  "AND tube IN ({ids})",
    results_waiting="SELECT lab, count(*), min(received_at) FROM receipt_tubes "
                    "WHERE resulted_at IS NULL AND received_at >= ? AND received_at < ? "
                    "GROUP BY lab",
    received_results="SELECT t.box, t.tube, min(r.tested_at) FROM receipts b "
                     "JOIN receipt_tubes t ON t.box = b.box "
                     "LEFT JOIN results r ON r.tube = t.tube "
                     "WHERE b.received_at >= ? AND b.received_at < ? GROUP BY t.box, t.tube",
    results_by_lab="SELECT lab, result, count(*) FROM results WHERE tested_at >= ? "
                   "AND tested_at < ? GROUP BY lab, result",
    box_events="SELECT payload, CASE WHEN unsynced THEN received_at END FROM events "
               "WHERE subject IN ({ids}) AND type IN ('box.closed', 'box.dispatched')",
    tubes_sealed="SELECT payload, CASE WHEN unsynced THEN received_at END FROM events "
                 "WHERE subject IN ({ids}) AND type = 'tube.sealed'",
    sealed_between="SELECT site, station, count(*) FROM events WHERE type = 'tube.sealed' "
                   "AND ts >= ? AND ts < ? AND NOT EXISTS (SELECT 1 FROM events v "
                   "WHERE v.subject = events.subject AND v.type = 'tube.voided' AND v.ts < ?) "
                   "GROUP BY site, station",
    dispatched_between="SELECT payload FROM events WHERE type = 'box.dispatched' "
                       "AND ts >= ? AND ts < ?",
    tubes_opened="SELECT payload FROM events WHERE subject IN ({ids}) "
                 "AND type = 'tube.opened'",
    singles_since="SELECT subject FROM events WHERE type = 'tube.opened' "
                  "AND json_extract(payload, '$.data.pool_size') = 1 "
                  "AND NOT unsynced AND ts >= ? "
                  "UNION SELECT subject FROM events WHERE unsynced AND received_at >= ? "
                  "AND type = 'tube.opened' AND json_extract(payload, '$.data.pool_size') = 1",
)

# The payload read as text (`::text`): decoded straight into its record, whatever the
# column's type (json, or jsonb in a database made before it was json).
POSTGRESQL = Dialect(
    name="postgresql",
    placeholder="%s",
    types={"integer": "BIGINT", "real": "DOUBLE PRECISION", "moment": "TIMESTAMPTZ",
           "blob": "BYTEA", "flag": "BOOLEAN"},
    quarantine="INSERT INTO quarantine VALUES (%s, %s, %s, %s)",
    station="INSERT INTO stations(site, station) VALUES (%s, %s) ON CONFLICT DO NOTHING",
    walk="SELECT DISTINCT seq FROM events WHERE site = %s AND station = %s AND seq > %s "
         "ORDER BY seq",
    high_water="UPDATE stations SET last_seq = GREATEST(last_seq, %s) "
               "WHERE site = %s AND station = %s",
    status="UPDATE stations SET state = %s, connection = %s, session = %s, status_at = %s "
           "WHERE site = %s AND station = %s AND connection <= %s",
    gaps="SELECT s.site, s.station, s.contiguous + 1, "
         "coalesce((SELECT min(e.seq) FROM events e WHERE e.site = s.site "
         " AND e.station = s.station AND e.seq > s.contiguous) - 1, s.last_seq) "
         "FROM stations s WHERE GREATEST(s.max_seq, s.last_seq) > s.contiguous",
    missing="SELECT coalesce(sum(GREATEST(max_seq, last_seq) - contiguous), 0) "
            "- (SELECT count(*) FROM events e JOIN stations s ON e.site = s.site "
            "AND e.station = s.station AND e.seq > s.contiguous) FROM stations",
    import_forms="INSERT INTO form_data (serial, id_number, name, phone, id_type, "
                 "person_jwe, imported_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                 "ON CONFLICT (serial) "
                 "DO UPDATE SET id_number = excluded.id_number, name = excluded.name, "
                 "phone = excluded.phone, id_type = excluded.id_type, "
                 "person_jwe = excluded.person_jwe, imported_at = excluded.imported_at",
    events="SELECT payload::text FROM events ORDER BY site, station, seq",
    events_of_site="SELECT payload::text FROM events WHERE site = %s ORDER BY site, station, seq",
    # A window's days as literals (`{first}`, `{last}`): the planner prunes the other
    # days' partitions before it plans.
    synced="SELECT site, station, seq, payload::text, NULL FROM events "
           "WHERE NOT unsynced AND ts >= %s AND ts < %s AND day BETWEEN {first} AND {last} "
           "ORDER BY site, station, seq",
    synced_of_site="SELECT site, station, seq, payload::text, NULL FROM events "
                   "WHERE NOT unsynced AND ts >= %s AND ts < %s "
                   "AND day BETWEEN {first} AND {last} AND site = %s "
                   "ORDER BY site, station, seq",
    unsynced="SELECT site, station, seq, payload::text, received_at FROM events "
             "WHERE unsynced AND received_at >= %s AND received_at < %s "
             "ORDER BY site, station, seq",
    unsynced_of_site="SELECT site, station, seq, payload::text, received_at FROM events "
                     "WHERE unsynced AND received_at >= %s AND received_at < %s "
                     "AND site = %s ORDER BY site, station, seq",
    tubes_to_recall="SELECT DISTINCT tube FROM results WHERE tested_at >= %s "
                    "AND tested_at < %s AND result <> 'negative'",
    add_result="INSERT INTO results (tube, lab, tested_at, result, ct_orf1ab, ct_n, source, "
               "imported_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
    mark_recalled="UPDATE results SET recalled_at = %s WHERE tube = %s AND lab = %s "
                  "AND tested_at = %s AND recalled_at IS NULL",
    span_events="SELECT payload::text, CASE WHEN unsynced THEN received_at END FROM events "
                "WHERE site = %s AND station = %s "
                "AND seq BETWEEN %s AND %s ORDER BY seq",
    boxes_at="SELECT seq, payload::text FROM events WHERE site = %s AND station = %s "
             "AND type IN ('box.closed', 'box.dispatched') ORDER BY seq",
    boxes_closed="SELECT payload::text FROM events WHERE subject IN ({ids}) "
                 "AND type = 'box.closed'",
    receipts_between="SELECT box, lab, tubes, received_at FROM receipts WHERE "
                     "received_at >= %s AND received_at < %s ORDER BY received_at",
    add_receipt="INSERT INTO receipts VALUES (%s, %s, %s, %s, %s, %s)",
    in_transit="SELECT subject, ts FROM events WHERE type = 'box.dispatched' AND ts >= %s "
               "AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.box = events.subject)",
    add_receipt_tube="INSERT INTO receipt_tubes (box, tube, scanned, lab, received_at, "
                     "resulted_at) VALUES (%s, %s, %s, %s, %s, "
                     "(SELECT min(imported_at) FROM results WHERE tube = %s)) "
                     "ON CONFLICT DO NOTHING",
    drop_packed="DELETE FROM receipt_tubes WHERE box = %s AND NOT scanned",
    mark_resulted="UPDATE receipt_tubes SET resulted_at = %s WHERE resulted_at IS NULL "
                  "AND tube IN ({ids})",
    results_waiting="SELECT lab, count(*), min(received_at) FROM receipt_tubes "
                    "WHERE resulted_at IS NULL AND received_at >= %s AND received_at < %s "
                    "GROUP BY lab",
    received_results="SELECT t.box, t.tube, min(r.tested_at) FROM receipts b "
                     "JOIN receipt_tubes t ON t.box = b.box "
                     "LEFT JOIN results r ON r.tube = t.tube "
                     "WHERE b.received_at >= %s AND b.received_at < %s GROUP BY t.box, t.tube",
    results_by_lab="SELECT lab, result, count(*) FROM results WHERE tested_at >= %s "
                   "AND tested_at < %s GROUP BY lab, result",
    box_events="SELECT payload::text, CASE WHEN unsynced THEN received_at END FROM events "
               "WHERE subject IN ({ids}) AND type IN ('box.closed', 'box.dispatched')",
    tubes_sealed="SELECT payload::text, CASE WHEN unsynced THEN received_at END FROM events "
                 "WHERE subject IN ({ids}) AND type = 'tube.sealed'",
    sealed_between="SELECT site, station, count(*) FROM events WHERE type = 'tube.sealed' "
                   "AND ts >= %s AND ts < %s AND NOT EXISTS (SELECT 1 FROM events v "
                   "WHERE v.subject = events.subject AND v.type = 'tube.voided' AND v.ts < %s) "
                   "GROUP BY site, station",
    dispatched_between="SELECT payload::text FROM events WHERE type = 'box.dispatched' "
                       "AND ts >= %s AND ts < %s",
    tubes_opened="SELECT payload::text FROM events WHERE subject IN ({ids}) "
                 "AND type = 'tube.opened'",
    singles_since="SELECT subject FROM events WHERE type = 'tube.opened' "
                  "AND payload->'data'->>'pool_size' = '1' "
                  "AND NOT unsynced AND ts >= %s "
                  "UNION SELECT subject FROM events WHERE unsynced AND received_at >= %s "
                  "AND type = 'tube.opened' AND payload->'data'->>'pool_size' = '1'",
)
