"""Door-to-door feedback from canvassing-app exports (Qomon, Ecanvasser, NationBuilder, OSDI,
Renaissance PAP): mapped to one canonical door knock, pseudonymised before landing,
deduplicated, quarantined when bad, flagged by integrity checks, purged when expired.

Modules: `model` (canonical event and vocabularies), `mappers/` (one per app), `readers`
(CSV / JSON-lines / JSON), `fields` (value parsers), `pseudonymise` (HMAC keys, secret),
`loader` (one file, one transaction), `dropzone` (exactly-once delivery folder), `purge`
(retention). See docs/canvass.md.
"""
