//! The receiver's guide (docs/receivers.md), run: real deliveries from the
//! real server are checked by the guide's own verifiers — the Python and Node
//! scripts as child processes, the Rust one compiled from the very file the
//! guide links to — and each must accept them and refuse a changed body, a
//! changed id, a wrong secret and a stale timestamp.
//!
//! `python3` and `node` must be on the PATH: a missing one fails the test
//! rather than skipping it, or the guide could rot unnoticed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use libris_e2e::TestApp;
use libris_testing::receiver::{Receiver, RecordedRequest};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::signatures::standard_signature;

/// The guide's Rust verifier, compiled from the file the guide shows.
mod guide {
    include!("../../../docs/receivers/verify.rs");
}

const WAIT: Duration = Duration::from_secs(10);
/// A script's first start on a busy machine can be slow (pyenv's shim alone
/// takes half a second here).
const STARTUP: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A request as a receiver would hand it to a verifier.
#[derive(Debug, Clone)]
struct Capture {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Capture {
    fn of(request: &RecordedRequest) -> Self {
        Self {
            headers: request.headers.clone(),
            body: request.body.clone(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A directory of its own for the captured requests, removed afterwards.
struct Scratch {
    dir: PathBuf,
    written: AtomicUsize,
}

impl Scratch {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("libris-receiver-guide-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self {
            dir,
            written: AtomicUsize::new(0),
        }
    }

    /// Writes headers.json and body.bin the way the guide describes them.
    fn write(&self, capture: &Capture) -> (PathBuf, PathBuf) {
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let headers: Map<String, Value> = capture
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::from(v.as_str())))
            .collect();
        let headers_path = self.dir.join(format!("{n}.headers.json"));
        let body_path = self.dir.join(format!("{n}.body.bin"));
        std::fs::write(&headers_path, Value::Object(headers).to_string()).expect("write headers");
        std::fs::write(&body_path, &capture.body).expect("write body");
        (headers_path, body_path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `program script args…` from the workspace root.
fn run(program: &str, script: &str, args: &[&Path]) -> Output {
    Command::new(program)
        .arg(workspace().join(script))
        .args(args)
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` for {script} ({e}): the guide's test needs it installed")
        })
}

#[derive(Debug, Clone, Copy)]
enum Verifier {
    Python,
    Node,
    Rust,
}

const VERIFIERS: [Verifier; 3] = [Verifier::Python, Verifier::Node, Verifier::Rust];

impl Verifier {
    /// `Ok` when the verifier accepts the capture, `Err(reason)` when it
    /// refuses it; anything else (a crash, a usage error) panics.
    fn verify(self, scratch: &Scratch, capture: &Capture, secret: &str) -> Result<(), String> {
        let (program, script) = match self {
            Self::Python => ("python3", "docs/receivers/verify.py"),
            Self::Node => ("node", "docs/receivers/verify.mjs"),
            Self::Rust => {
                let header = |name: &str| capture.header(name);
                return guide::verify_delivery(secret, header, &capture.body, guide::unix_now());
            }
        };
        let (headers, body) = scratch.write(capture);
        let secret = Path::new(secret);
        let args = [
            Path::new("check"),
            Path::new("--secret"),
            secret,
            Path::new("--headers"),
            &headers,
            Path::new("--body"),
            &body,
        ];
        let output = run(program, script, &args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) if stdout.starts_with("verified") => Ok(()),
            // A crash exits 1 too; only a stated refusal counts as one.
            Some(1) if stderr.starts_with("refused: ") => {
                Err(stderr.trim().trim_start_matches("refused: ").to_owned())
            }
            _ => panic!(
                "{script} check failed oddly ({}):\n{stdout}\n{stderr}",
                output.status
            ),
        }
    }
}

/// One thing the guide promises about a request.
struct Case {
    what: &'static str,
    capture: Capture,
    secret: String,
    /// `None`: accepted; `Some(words)`: refused with a reason containing them.
    refused_because: Option<&'static str>,
}

/// A real delivery must be accepted, whatever the form of its secret.
fn real_delivery(request: &RecordedRequest, secret: &str) -> Case {
    Case {
        what: "a real delivery",
        capture: Capture::of(request),
        secret: secret.to_owned(),
        refused_because: None,
    }
}

/// Every forgery the guide says is refused, made from one real delivery.
/// Refusing does not depend on the form of the secret, so one is enough.
fn forgeries_of(request: &RecordedRequest, secret: &str) -> Vec<Case> {
    let genuine = Capture::of(request);
    let case = |what, capture: Capture, secret: &str, words| Case {
        what,
        capture,
        secret: secret.to_owned(),
        refused_because: Some(words),
    };

    let mut changed_body = genuine.clone();
    let middle = changed_body.body.len() / 2;
    changed_body.body[middle] ^= 0x01;

    // The body alone still matches its hex signature: this is the Standard
    // Webhooks signature doing its job of binding the id.
    let other_id = genuine
        .clone()
        .with_header("webhook-id", "00000000-0000-0000-0000-000000000000");

    // A replay ten minutes later, even correctly signed, is too old.
    let key = guide::signing_key(secret).expect("a usable secret");
    let id = genuine.header("webhook-id").expect("webhook-id");
    let then = (guide::unix_now() - 600).to_string();
    let stale = genuine
        .clone()
        .with_header("webhook-timestamp", &then)
        .with_header(
            "webhook-signature",
            &standard_signature(&key, id, &then, &genuine.body),
        );

    vec![
        case(
            "one body byte changed",
            changed_body,
            secret,
            "X-Webhook-Signature does not match",
        ),
        case(
            "another webhook-id",
            other_id,
            secret,
            "webhook-signature does not match",
        ),
        case("a stale timestamp, re-signed", stale, secret, "s old"),
        case(
            "the wrong secret",
            genuine,
            "not-the-secret",
            "does not match",
        ),
    ]
}

/// Runs every case through every verifier, a few at a time (each script
/// start costs a few hundred milliseconds; all at once would starve the
/// machine), and reports every miss together.
fn assert_cases(scratch: &Scratch, cases: &[Case]) {
    let runs: Vec<(&Case, Verifier)> = cases
        .iter()
        .flat_map(|case| VERIFIERS.map(|verifier| (case, verifier)))
        .collect();
    let misses: Vec<String> = runs
        .chunks(4)
        .flat_map(|batch| run_batch(scratch, batch))
        .collect();
    assert!(misses.is_empty(), "{misses:#?}");
}

fn run_batch(scratch: &Scratch, batch: &[(&Case, Verifier)]) -> Vec<String> {
    std::thread::scope(|threads| {
        let running: Vec<_> = batch
            .iter()
            .map(|&(case, verifier)| {
                threads.spawn(move || {
                    let outcome = verifier.verify(scratch, &case.capture, &case.secret);
                    let miss = match (outcome, case.refused_because) {
                        (Ok(()), None) => return None,
                        (Err(reason), Some(words)) if reason.contains(words) => return None,
                        (Ok(()), Some(words)) => format!("accepted; should say {words:?}"),
                        (Err(reason), _) => format!("refused: {reason}"),
                    };
                    Some(format!(
                        "{verifier:?}, {} ({:?}): {miss}",
                        case.what, case.secret
                    ))
                })
            })
            .collect();
        running
            .into_iter()
            .filter_map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[actix_web::test]
async fn the_guides_verifiers_accept_real_deliveries_and_refuse_forgeries() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    // Each key form the guide describes: a generated `whsec_` secret (padded
    // base64), a given one without its padding, and a plain text one.
    let unpadded = format!("whsec_{}", STANDARD_NO_PAD.encode([0x5a; 32]));
    let mut subscribers = Vec::new();
    for given in [None, Some(unpadded.as_str()), Some("my-secret-key")] {
        let receiver = Receiver::start().await;
        let mut body = json!({"url": receiver.url(), "events": ["author.created"]});
        if let Some(secret) = given {
            body["secret"] = json!(secret);
        }
        let hook = app
            .admin(Method::POST, "/api/webhooks/", Some(body))
            .await
            .expect(201);
        let secret = hook["secret"].as_str().expect("shown on create").to_owned();
        subscribers.push((secret, receiver));
    }
    assert!(subscribers[0].0.starts_with("whsec_") && subscribers[0].0.ends_with('='));

    app.author("Octavia E. Butler").await;
    let mut cases = Vec::new();
    for (secret, receiver) in &subscribers {
        let request = receiver.wait_for(1, WAIT).await.remove(0);
        cases.push(real_delivery(&request, secret));
        if secret == "my-secret-key" {
            cases.extend(forgeries_of(&request, secret));
        }
    }
    assert_cases(&scratch, &cases);
}

/// A child process that is killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child prints, read on a thread so the test's runtime (which
/// also runs the server) never blocks on the pipe.
struct Lines {
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Self {
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line starting with `prefix`; panics with everything printed
    /// so far if none comes within `patience`.
    async fn expect(&mut self, prefix: &str, patience: Duration) -> String {
        let deadline = Instant::now() + patience;
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no line starting {prefix:?}; printed: {:#?}",
                self.seen
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[actix_web::test]
async fn the_guides_python_receiver_verifies_deliveries_once_and_refuses_forgeries() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let script = workspace().join("docs/receivers/verify.py");
    // Port 0: the receiver picks a free port and says which.
    let child = Command::new("python3")
        .arg(&script)
        .args([
            "serve",
            "--port",
            "0",
            "--secret",
            "my-secret-key",
            "--save",
        ])
        .arg(&scratch.dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `python3` ({e}): the guide's test needs it"));
    let mut python = Running(child);
    let mut printed = Lines::of(&mut python.0);
    let listening = printed.expect("listening on ", STARTUP).await;
    let url = listening.trim_start_matches("listening on ").to_owned();

    app.subscribe(&url, &["author.created"], "my-secret-key")
        .await;
    app.author("N. K. Jemisin").await;
    let verified = printed
        .expect("verified author.created webhook-id=", WAIT)
        .await;
    let id = verified.rsplit('=').next().expect("an id").to_owned();
    let delivered = app
        .eventually("/api/webhooks/deliveries/", WAIT, |b| {
            b["results"][0]["status"] == "delivered"
        })
        .await;

    // A redelivery repeats the webhook-id: acknowledged, not handled again.
    let delivery = delivered["results"][0]["id"].as_i64().expect("an id");
    app.admin(
        Method::POST,
        &format!("/api/webhooks/deliveries/{delivery}/redeliver/"),
        None,
    )
    .await
    .expect(200);
    printed
        .expect(&format!("duplicate author.created webhook-id={id}"), WAIT)
        .await;
    app.eventually("/api/webhooks/logs/?success=true", WAIT, |b| {
        b["count"] == 2
    })
    .await;

    // What `serve --save` wrote is what `check` reads.
    let saved_headers = scratch.dir.join(format!("{id}.headers.json"));
    let saved_body = scratch.dir.join(format!("{id}.body.bin"));
    let args = [
        Path::new("check"),
        Path::new("--secret"),
        Path::new("my-secret-key"),
        Path::new("--headers"),
        &saved_headers,
        Path::new("--body"),
        &saved_body,
    ];
    let checked = run("python3", "docs/receivers/verify.py", &args);
    assert!(checked.status.success(), "{checked:?}");

    let forged = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-webhook-signature", "sha256=00")
        .header("webhook-id", "forged")
        .header("webhook-timestamp", guide::unix_now().to_string())
        .header("webhook-signature", "v1,AAAA")
        .body(r#"{"id":"forged","event":"author.created"}"#)
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(forged.status().as_u16(), 401);
    printed.expect("REFUSED", WAIT).await;
}

#[test]
fn the_guide_links_only_to_files_in_this_repository() {
    let root = workspace().canonicalize().expect("the workspace");
    let docs = root.join("docs");
    let guide = std::fs::read_to_string(docs.join("receivers.md")).expect("docs/receivers.md");
    let links: Vec<&str> = guide
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    assert!(!links.is_empty(), "the guide links to its scripts");
    for link in links {
        let path = link.split('#').next().unwrap_or_default();
        let target = docs.join(path).canonicalize();
        assert!(
            target.as_ref().is_ok_and(|t| t.starts_with(&root)),
            "{link:?} must name a file in this repository (got {target:?})"
        );
    }
}

#[test]
fn the_guides_example_request_is_a_delivery_signed_with_my_secret_key() {
    let guide_text =
        std::fs::read_to_string(workspace().join("docs/receivers.md")).expect("docs/receivers.md");
    let example = guide_text
        .split("```http\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an http example");
    let (head, body) = example.split_once("\n\n").expect("headers, then the body");
    let headers: Vec<(&str, &str)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(": "))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let body = body.trim_end_matches('\n').as_bytes();
    assert_eq!(
        header("content-length"),
        Some(body.len().to_string().as_str())
    );
    // Checked as of when it was sent: the example is old by now.
    let sent_at = header("webhook-timestamp")
        .expect("a timestamp")
        .parse()
        .expect("seconds");
    guide::verify_delivery("my-secret-key", header, body, sent_at).expect("the example verifies");
}
