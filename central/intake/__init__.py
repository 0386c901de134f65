"""What central is handed rather than sent: labs' result and receipt files, and the
typed data of paper cards, each checked whole before it is stored. Builds on the
store; never imports ingest or reports."""
