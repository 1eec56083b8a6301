-- Single sign-on to the console with an OpenID Connect provider.

-- A provider's account linked to a Libris user: the provider names a person
-- by (issuer, subject), never by email, so that pair is the key. `email` is
-- what the provider said when the link was made, for the admins' eyes only.
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer TEXT NOT NULL CHECK (length(issuer) > 0),
    subject TEXT NOT NULL CHECK (length(subject) > 0),
    email TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    CONSTRAINT user_identities_once UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Sign-ins sent to the provider and not back yet: the callback takes its
-- row (once) by `state`. Rows older than ten minutes are refused and swept.
CREATE TABLE oidc_logins (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX oidc_logins_created ON oidc_logins (created_at);

-- One-time codes the callback hands the console in the URL fragment, kept
-- as their SHA-256: a code is exchanged once, within a minute, for a token.
CREATE TABLE login_codes (
    code_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);
CREATE INDEX login_codes_expiry ON login_codes (expires_at);
CREATE INDEX login_codes_user ON login_codes (user_id);
