-- Cookie sessions of the web portal (issue #15): the CSRF token sealed with the session's secret
-- (XOR with a pad derived from it, so the database alone does not reveal it) and the last use, for
-- the idle timeout. Both are NULL for bearer sessions and API tokens.
ALTER TABLE api_tokens ADD COLUMN csrf_sealed TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
