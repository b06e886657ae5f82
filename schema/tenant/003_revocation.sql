-- 003_revocation.sql - what `logout` revokes (README, "Revocation").
--
-- logout(allSessions: true) moves users.sessions_revoked_at forward to the second it ran:
-- every token of that user whose iat (whole seconds) is at or before that second is
-- refused. logout() revokes the caller's token alone, by its jti: a row here until the
-- token would have expired anyway (expired rows are pruned by later logouts). The server
-- asks about both at most once a second per user per worker thread.

ALTER TABLE users ADD COLUMN sessions_revoked_at timestamptz;

CREATE TABLE revoked_tokens (
    jti        uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    expires_at timestamptz NOT NULL   -- the token's exp plus the verifier's leeway
);

CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
