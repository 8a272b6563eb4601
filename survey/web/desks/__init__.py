"""Staff pages for desks: QR codes, posters, one-time visit tickets."""
