//! Single sign-on over HTTP, in process: the redirect to the provider and
//! its cookie, the callback's refusals, the code exchange's 401s, the
//! admins' identity routes, and a server without SSO. The provider is two
//! canned documents (discovery and an empty key set) on a loopback
//! receiver; a whole sign-in against a real provider is the browser tests'.

use clap::Parser as _;
use libris_server::{Application, Cli, Config};
use libris_testing::database::TestDatabase;
use libris_testing::receiver::{Receiver, Reply};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

const ADMIN: (&str, &str) = ("admin", "admin-password");

struct App {
    base: String,
    client: Client,
    _server: actix_web::dev::ServerHandle,
    _database: TestDatabase,
}

impl App {
    async fn spawn(extra: &[&str]) -> Self {
        let database = TestDatabase::sqlite();
        let mut argv = vec![
            "libris",
            "--database-url",
            database.url(),
            "--port",
            "0",
            "--http-workers",
            "1",
            "--admin-username",
            ADMIN.0,
            "--admin-password",
            ADMIN.1,
        ];
        argv.extend_from_slice(extra);
        let config = Config::from_cli(&Cli::try_parse_from(argv).unwrap());
        let application = Application::build(config).await.expect("the app starts");
        let base = format!("http://127.0.0.1:{}", application.port());
        let (server, _workers) = application.into_parts();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            client,
            _server: handle,
            _database: database,
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>, token: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let body = json!({"username": username, "password": password});
        let (status, body) = self
            .send(reqwest::Method::POST, "/api/auth/token/", None, Some(body))
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }
}

/// A provider that answers discovery (and its empty key set) once.
async fn provider() -> Receiver {
    let receiver = Receiver::start().await;
    let issuer = receiver.base_url();
    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let json_reply = |body: Value| {
        Reply::status(200)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    receiver.respond_with(vec![json_reply(discovery), json_reply(json!({"keys": []}))]);
    receiver
}

fn sso_args(issuer: &str) -> Vec<String> {
    [
        "--oidc-issuer",
        issuer,
        "--oidc-client-id",
        "libris",
        "--oidc-client-secret",
        "client-secret",
        "--public-url",
        "https://libris.example/",
    ]
    .map(String::from)
    .to_vec()
}

async fn app_with_sso(issuer: &str) -> App {
    let args = sso_args(issuer);
    App::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> String {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn query(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

#[actix_web::test]
async fn the_login_sends_the_browser_to_the_provider_with_pkce_state_and_nonce() {
    let provider = provider().await;
    let app = app_with_sso(&provider.base_url()).await;
    let response = app.get("/admin/oidc/login", None, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = header(&response, LOCATION);
    assert!(
        location.starts_with(&format!("{}/authorize?", provider.base_url())),
        "{location}"
    );
    let pairs = query(&location);
    assert_eq!(param(&pairs, "response_type"), "code");
    assert_eq!(param(&pairs, "client_id"), "libris");
    assert_eq!(param(&pairs, "code_challenge_method"), "S256");
    assert_eq!(param(&pairs, "code_challenge").len(), 43);
    assert_eq!(
        param(&pairs, "redirect_uri"),
        "https://libris.example/admin/oidc/callback"
    );
    assert!(param(&pairs, "scope").split(' ').any(|s| s == "openid"));
    assert!(param(&pairs, "nonce").len() >= 16);
    let state = param(&pairs, "state");
    assert!(state.len() >= 16);
    let cookie = header(&response, SET_COOKIE);
    let attributes: Vec<&str> = cookie.split("; ").collect();
    assert_eq!(
        attributes,
        [
            format!("libris_oidc_state={state}").as_str(),
            "Path=/admin/oidc",
            "Max-Age=600",
            "HttpOnly",
            "SameSite=Lax",
            "Secure"
        ]
    );
    // Two logins, two states: nothing is shared between sign-ins.
    let again = app.get("/admin/oidc/login", None, None).await;
    assert_ne!(param(&query(&header(&again, LOCATION)), "state"), state);
}

#[actix_web::test]
async fn a_callback_that_did_not_start_here_is_refused_and_the_cookie_cleared() {
    let provider = provider().await;
    let app = app_with_sso(&provider.base_url()).await;
    let login = app.get("/admin/oidc/login", None, None).await;
    let state = param(&query(&header(&login, LOCATION)), "state").to_owned();
    let cookie = format!("libris_oidc_state={state}");
    let cases = [
        // No cookie: the request did not come from the browser that started.
        (
            format!("/admin/oidc/callback?code=c&state={state}"),
            None,
            "state_mismatch",
        ),
        // Another state than the cookie's.
        (
            "/admin/oidc/callback?code=c&state=forged".to_owned(),
            Some(cookie.as_str()),
            "state_mismatch",
        ),
        // The provider refused.
        (
            format!("/admin/oidc/callback?error=access_denied&state={state}"),
            Some(cookie.as_str()),
            "provider_error",
        ),
        // A state never stored.
        (
            "/admin/oidc/callback?code=c&state=never".to_owned(),
            Some("libris_oidc_state=never"),
            "state_mismatch",
        ),
    ];
    for (path, cookie, reason) in cases {
        let response = app.get(&path, cookie, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            header(&response, LOCATION),
            format!("/admin/#oidc_error={reason}"),
            "{path}"
        );
        let cleared = header(&response, SET_COOKIE);
        assert!(
            cleared.starts_with("libris_oidc_state=; Path=/admin/oidc; Max-Age=0"),
            "{cleared}"
        );
    }
}

#[actix_web::test]
async fn an_unknown_or_missing_code_is_not_exchanged() {
    let provider = provider().await;
    let app = app_with_sso(&provider.base_url()).await;
    let (status, body) = app
        .send(reqwest::Method::GET, "/api/auth/oidc/", None, None)
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"enabled": true})));
    let exchange = |body: Value| {
        app.send(
            reqwest::Method::POST,
            "/api/auth/oidc/exchange/",
            None,
            Some(body),
        )
    };
    let (status, body) = exchange(json!({"code": "made-up"})).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (401, Some("invalid_code"))
    );
    let (status, _) = exchange(json!({"code": ""})).await;
    assert_eq!(status, 401);
    let (status, body) = exchange(json!({})).await;
    assert_eq!(
        (status.as_u16(), body["details"][0]["field"].as_str()),
        (422, Some("code"))
    );
}

#[actix_web::test]
async fn admins_link_and_unlink_identities() {
    let provider = provider().await;
    let app = app_with_sso(&provider.base_url()).await;
    let admin = app.token(ADMIN.0, ADMIN.1).await;
    let member = json!({"username": "ann", "email": "ann@example.com", "password": "ann-password"});
    let (status, ann) = app
        .send(reqwest::Method::POST, "/api/users/", None, Some(member))
        .await;
    assert_eq!(status, 201);
    let ann_id = ann["id"].as_i64().unwrap();
    let path = format!("/api/users/{ann_id}/identities/");
    let link = |token: Option<String>, body: Value| {
        let path = path.clone();
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, token.as_deref(), Some(body))
                .await
        }
    };

    let (status, created) = link(Some(admin.clone()), json!({"subject": "sub-1"})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["issuer"],
        provider.base_url(),
        "the configured issuer"
    );
    assert_eq!(created["subject"], "sub-1");
    let (status, _) = link(Some(admin.clone()), json!({"subject": "sub-1"})).await;
    assert_eq!(status, 409);
    let (status, _) = link(
        Some(admin.clone()),
        json!({"subject": "sub-1", "issuer": "https://other.example"}),
    )
    .await;
    assert_eq!(status, 201, "another issuer is another account");
    let (status, body) = link(Some(admin.clone()), json!({"subject": "  "})).await;
    assert_eq!(
        (status.as_u16(), body["details"][0]["field"].as_str()),
        (422, Some("subject"))
    );
    let (status, _) = link(None, json!({"subject": "sub-2"})).await;
    assert_eq!(status, 401);
    let ann_token = app.token("ann", "ann-password").await;
    let (status, _) = link(Some(ann_token.clone()), json!({"subject": "sub-2"})).await;
    assert_eq!(status, 403);
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/users/999/identities/",
            Some(&admin),
            Some(json!({"subject": "sub-2"})),
        )
        .await;
    assert_eq!(status, 404);

    let (status, listed) = app
        .send(reqwest::Method::GET, &path, Some(&admin), None)
        .await;
    assert_eq!((status.as_u16(), listed["count"].as_i64()), (200, Some(2)));
    let id = created["id"].as_i64().unwrap();
    let one = format!("{path}{id}/");
    let (status, _) = app
        .send(reqwest::Method::DELETE, &one, Some(&admin), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .send(reqwest::Method::DELETE, &one, Some(&admin), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .send(
            reqwest::Method::GET,
            "/api/users/999/identities/",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn without_a_provider_sso_is_off_and_says_so() {
    let app = App::spawn(&[]).await;
    let (status, body) = app
        .send(reqwest::Method::GET, "/api/auth/oidc/", None, None)
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"enabled": false})));
    for path in ["/admin/oidc/login", "/admin/oidc/callback?code=c&state=s"] {
        let response = app.get(path, None, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            header(&response, LOCATION),
            "/admin/#oidc_error=not_configured"
        );
    }
}

#[actix_web::test]
async fn the_server_starts_while_the_provider_is_down() {
    // Nothing listens there: discovery waits for the first sign-in.
    let app = app_with_sso("http://127.0.0.1:9").await;
    let response = app.get("/admin/oidc/login", None, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&response, LOCATION),
        "/admin/#oidc_error=provider_error"
    );
}
