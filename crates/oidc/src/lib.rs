//! Libris's OpenID Connect adapter: the [`IdentityProvider`] port over the
//! `openidconnect` crate.
//!
//! - The provider is discovered on the first sign-in, not at start, so the
//!   server starts while the provider is down; a failed discovery is not
//!   kept, and a provider failure later (its token endpoint, its keys, which
//!   rotate) forgets what was discovered, so the next sign-in looks again.
//! - Authorization code flow with PKCE (S256), a random `state` and `nonce`
//!   per sign-in; the ID token is verified against the issuer's JWKS:
//!   signature, issuer, audience (this client), expiry and nonce, and the
//!   access token hash when the token has one.
//! - The HTTP client follows no redirect (the crate requires it: a redirect
//!   could send the client secret or the code anywhere) and times out.
//!
//! Only discovery and the callback's requests hold this process's memory;
//! every sign-in's secrets are stored by the application, so any instance
//! finishes a sign-in another started.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use libris_application::sso::{
    IdentityProvider, PendingLogin, ProviderError, ProviderFuture, VerifiedIdentity,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// How long one request to the provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client as discovery configures it: an authorization endpoint, and a
/// token and user info endpoint when the provider has them.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// This client's registration at the provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL, exactly as the provider's ID tokens name it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back (the callback).
    pub redirect_url: String,
}

/// Never prints the secret.
impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// Why the adapter cannot be built; each names the setting.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the issuer `{0}` is not a URL")]
    Issuer(String),
    #[error("the redirect URL `{0}` is not a URL")]
    RedirectUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The provider adapter. Cheap to clone; clones share the discovery.
#[derive(Clone)]
pub struct OpenIdProvider {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_url: RedirectUrl,
    http: reqwest::Client,
    /// `None` until a discovery succeeds, and again after a provider failure.
    discovered: RwLock<Option<Arc<DiscoveredClient>>>,
}

impl OpenIdProvider {
    /// Checks the settings; contacts nobody.
    pub fn new(settings: OidcSettings) -> Result<Self, SettingsError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|_| SettingsError::Issuer(settings.issuer.clone()))?;
        let redirect_url = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|_| SettingsError::RedirectUrl(settings.redirect_url.clone()))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("libris/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(SettingsError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer,
                client_id: ClientId::new(settings.client_id),
                client_secret: ClientSecret::new(settings.client_secret),
                redirect_url,
                http,
                discovered: RwLock::new(None),
            }),
        })
    }
}

impl Inner {
    /// The discovered client, discovering it first if need be. Two sign-ins
    /// racing on a cold cache both discover; the last one kept wins.
    async fn client(&self) -> Result<Arc<DiscoveredClient>, ProviderError> {
        let cached = self
            .discovered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(client) = cached {
            return Ok(client);
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            // Logged once, where the sign-in's failure is mapped (http errors).
            .map_err(|e| {
                ProviderError::Unavailable(format!(
                    "discovery of {} failed: {}",
                    self.issuer.as_str(),
                    error_chain(&e)
                ))
            })?;
        let client = Arc::new(
            CoreClient::from_provider_metadata(
                metadata,
                self.client_id.clone(),
                Some(self.client_secret.clone()),
            )
            .set_redirect_uri(self.redirect_url.clone()),
        );
        tracing::info!(issuer = %self.issuer.as_str(), "OpenID Connect provider discovered");
        *self
            .discovered
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&client));
        Ok(client)
    }

    /// After a provider failure: what was discovered may be stale (moved
    /// endpoints, rotated keys), so the next sign-in discovers again.
    fn forget(&self) {
        *self
            .discovered
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn authorization_url(&self) -> Result<(String, PendingLogin), ProviderError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            // `openid` is always asked; `email` names the person for the
            // link by verified email.
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingLogin {
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        };
        Ok((url.to_string(), pending))
    }

    async fn finish(
        &self,
        code: String,
        pending: PendingLogin,
    ) -> Result<VerifiedIdentity, ProviderError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| ProviderError::Unavailable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                self.forget();
                ProviderError::Unavailable(format!("the token request failed: {}", error_chain(&e)))
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| ProviderError::InvalidToken("the answer has no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce);
        // A signature no known key verifies may be by a key the provider
        // rotated in since discovery: look again once, and verify anew.
        let unknown_key = matches!(
            id_token.claims(&client.id_token_verifier(), &nonce),
            Err(ClaimsVerificationError::SignatureVerification(_))
        );
        let client = if unknown_key {
            self.forget();
            self.client().await?
        } else {
            client
        };
        let verifier = client.id_token_verifier();
        let claims: &CoreIdTokenClaims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| ProviderError::InvalidToken(e.to_string()))?;
        // The access token is not used, but a token that names another one
        // is not the provider's answer to this request.
        if let Some(expected) = claims.access_token_hash() {
            let invalid = |e: &dyn std::fmt::Display| ProviderError::InvalidToken(e.to_string());
            let algorithm = id_token.signing_alg().map_err(|e| invalid(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|e| invalid(&e))?;
            if actual != *expected {
                return Err(ProviderError::InvalidToken(
                    "the access token hash does not match".into(),
                ));
            }
        }
        Ok(VerifiedIdentity {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            email: claims.email().map(|email| email.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
        })
    }
}

/// An error with its causes: reqwest's own message says little ("error
/// sending request") without them.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IdentityProvider for OpenIdProvider {
    fn issuer(&self) -> String {
        self.inner.issuer.as_str().to_owned()
    }

    fn authorization_url(&self) -> ProviderFuture<(String, PendingLogin)> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.authorization_url().await })
    }

    fn finish(&self, code: String, pending: PendingLogin) -> ProviderFuture<VerifiedIdentity> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.finish(code, pending).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example/realms/libris".into(),
            client_id: "libris".into(),
            client_secret: "s3cret".into(),
            redirect_url: "https://libris.example/admin/oidc/callback".into(),
        }
    }

    #[test]
    fn settings_are_checked_without_contacting_the_provider() {
        let provider = OpenIdProvider::new(settings()).unwrap();
        assert_eq!(provider.issuer(), "https://id.example/realms/libris");
        let bad_issuer = OidcSettings {
            issuer: "not a url".into(),
            ..settings()
        };
        assert!(matches!(
            OpenIdProvider::new(bad_issuer),
            Err(SettingsError::Issuer(_))
        ));
        let bad_redirect = OidcSettings {
            redirect_url: "/admin/oidc/callback".into(),
            ..settings()
        };
        assert!(matches!(
            OpenIdProvider::new(bad_redirect),
            Err(SettingsError::RedirectUrl(_))
        ));
        assert!(!format!("{:?}", settings()).contains("s3cret"));
    }

    #[tokio::test]
    async fn a_provider_that_is_down_is_unavailable_and_not_remembered() {
        // Nothing listens on port 9 of loopback (discard; closed here).
        let provider = OpenIdProvider::new(OidcSettings {
            issuer: "http://127.0.0.1:9".into(),
            ..settings()
        })
        .unwrap();
        let failed = provider.authorization_url().await;
        assert!(
            matches!(failed, Err(ProviderError::Unavailable(_))),
            "{failed:?}"
        );
        assert!(provider.inner.discovered.read().unwrap().is_none());
    }
}
