"""The citizen questionnaire: desk QR link, kiosk and one-time ticket, and the thank-you
page."""
