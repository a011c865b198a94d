"""Discovery reports: one KOI's stored facts as a PDF."""
