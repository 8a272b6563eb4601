"""Paper questionnaires: the operator page for typing them in, and the import of responses
in the system's canonical CSV format. Both store through `record_responses` (channel
`paper` or `import`), so they extend the hash chain and the rollups like the web form."""
