"""The collector: from the broker to a committed batch and its acknowledgements, its
metrics and gauges. Builds on the MQTT client and the store; never imports intake or
reports (a test checks what `import central.ingest.collector` loads)."""
