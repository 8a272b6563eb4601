"""Exports for auditors: the canonical CSV, the XLSX worksheet, the PDF report, and signed
bundles. Builders are pure functions of rows and results; `rows` reads the database."""
