-- People's accounts and their browser sessions. API tokens (api_tokens) stay for machines; a person
-- signs in with a login and a password and gets a session with the same roles and area scopes.

CREATE TABLE users (
  id               bigserial PRIMARY KEY,
  login            text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
  name             text NOT NULL,                -- the person's name, e.g. 张三; what the audit log shows
  role             text NOT NULL CHECK (role IN ('admin','manager','dispatcher','analyst','worker','viewer')),
  scope_code       text,                         -- NULL: the whole registry
  password_hash    text NOT NULL,                -- libsodium crypto_pwhash_str (argon2id, salt and cost inside)
  failed_logins    integer NOT NULL DEFAULT 0,   -- consecutive failures since the last success or lock
  locked_until     timestamptz,                  -- sign-in refused until then (too many failures)
  disabled_at      timestamptz,                  -- set: the account may not sign in and its sessions end
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  password_set_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE user_sessions (
  id          bigserial PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id),
  token_hash  text NOT NULL UNIQUE,   -- hex SHA-256 of the session cookie's value; the value is never stored
  csrf_token  text NOT NULL,          -- sent back as X-CSRF-Token on writes; useless without the cookie, so kept readable for the page after a reload
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at  timestamptz NOT NULL,
  ended_at    timestamptz             -- logout, password change or disabling
);
CREATE INDEX user_sessions_user ON user_sessions (user_id) WHERE ended_at IS NULL;
