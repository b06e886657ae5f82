-- 001_users.sql - the tenant's users. Emails are stored lower-cased by the server, so
-- the plain unique constraint is the case-insensitive uniqueness the API promises.

CREATE TABLE users (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text        NOT NULL UNIQUE,
    password   text        NOT NULL,          -- Argon2id hash in libsodium's crypto_pwhash_str format
    first_name text,
    last_name  text,
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- the `users` connection pages by (email in byte order, id)
CREATE INDEX users_email_order ON users (email COLLATE "C", id);
