"""The KOI classifier: P(planet) and the three archive classes, trained and scored."""
