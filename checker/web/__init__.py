"""The web platform every page and API call goes through: security headers and form checks,
the signed cookie session, rate limits, log hygiene, languages, and error pages."""
