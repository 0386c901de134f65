"""What a district asks of the stored events: the projection, the reports and their
Chinese and printed forms, recall and custody, and central's key pair with the sealed
persons opened by it. Reads the store; never imports ingest or intake."""
