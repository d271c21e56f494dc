//! A running `agentstack serve` for the tests: the real binary on a free loopback port with a
//! temporary store, and a plain HTTP client to post to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentstack_exporter_sqlite::SqliteSpanStore;

pub mod otlp;
pub mod services;

/// A running `agentstack serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT` of the collector
    pub base: String,
    /// `http://127.0.0.1:PORT` of the REST API
    pub api: String,
    /// `http://127.0.0.1:PORT` of the OTLP/gRPC collector
    pub grpc: String,
    pub db: PathBuf,
    /// Everything it printed on stdout.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Everything it logged on stderr (also echoed to the test's stderr).
    pub stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Server::start_in(tempfile::tempdir().unwrap(), extra)
    }

    /// Starts on the store `dir/server.db` (see [`db_in`]), which may already hold API keys.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let db = db_in(&dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_agentstack"))
            .args([
                "serve",
                "--otlp-http",
                "127.0.0.1:0",
                "--api",
                "127.0.0.1:0",
                "--otlp-grpc",
                "127.0.0.1:0",
                "--db",
            ])
            .arg(&db)
            .args(extra)
            .env_remove("AGENTSTACK_OTLP_HTTP_ADDR")
            .env_remove("AGENTSTACK_DB")
            .env_remove("AGENTSTACK_API_ADDR")
            .env_remove("AGENTSTACK_ADMIN_TOKEN")
            .env_remove("AGENTSTACK_OTLP_GRPC_ADDR")
            .env_remove("AGENTSTACK_CONFIG")
            .env_remove("AGENTSTACK_LOG")
            .env_remove("AGENTSTACK_LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = {
            let lines = BufReader::new(child.stderr.take().unwrap());
            let logged = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in lines.lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    logged.lock().unwrap().push(line);
                }
            })
        };
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stdout.take().unwrap());
        let seen = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let (mut base, mut api, mut grpc) = (None, None, None);
            for line in lines.lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("OTLP/gRPC collector listening on ").nth(1) {
                    grpc = Some(rest.to_string());
                }
                if let Some(rest) = line.split("OTLP/HTTP collector listening on ").nth(1) {
                    base = Some(rest.trim_end_matches("/v1/traces").to_string());
                }
                if let Some(rest) = line.split("API listening on ").nth(1) {
                    api = Some(rest.trim_end_matches("/api/v1").to_string());
                }
                let last_of_start = line.contains("span store");
                seen.lock().unwrap().push(line);
                if last_of_start
                    && let (Some(base), Some(api), Some(grpc)) =
                        (base.take(), api.take(), grpc.take())
                {
                    let _ = tx.send((base, api, grpc));
                }
            }
        });
        let (base, api, grpc) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("agentstack serve did not say where it listens");
        Server {
            child,
            base,
            api,
            grpc,
            db,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
            _dir: dir,
        }
    }

    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.base)
    }

    /// GETs `path_and_query` (`/api/v1/traces?limit=2`) from the API.
    pub fn get(&self, path_and_query: &str) -> Answer {
        get(&format!("{}{path_and_query}", self.api))
    }

    /// Like [`get`](Self::get), but the answer must be JSON; returns status and body.
    pub fn get_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let answer = self.get(path_and_query);
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/json"),
            "{path_and_query}: {}",
            answer.text()
        );
        let body = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("{path_and_query}: {e}: {}", answer.text()));
        (answer.status, body)
    }

    pub fn post(&self, content_type: &str, encoding: Option<&str>, body: &[u8]) -> Answer {
        post(&self.traces_url(), content_type, encoding, body)
    }

    /// Waits until the store holds `count` spans (the writer is asynchronous), then opens it.
    pub fn store_with(&self, count: i64) -> SqliteSpanStore {
        let store = SqliteSpanStore::open(&self.db).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let stored = store.span_count().unwrap();
            if stored >= count {
                assert_eq!(stored, count, "more spans than sent");
                return store;
            }
            assert!(
                Instant::now() < deadline,
                "only {stored} of {count} spans arrived in the store"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak resident memory of the server process, in bytes (Linux).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit; returns whether it exited with success.
    /// The first line logged on stderr that contains `needle`, waiting up to 20 s for it.
    pub fn wait_logged(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|line| line.contains(needle))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            assert!(Instant::now() < deadline, "serve never logged {needle:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every line logged on stderr, once the server has exited and its stderr is closed.
    pub fn all_logged(&mut self) -> Vec<String> {
        // Its exit status is the caller's to check; only the end of its output matters here.
        let _exited = self.wait_exit();
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        self.stderr.lock().unwrap().clone()
    }

    pub fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn get(url: &str) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call().unwrap();
    answer(response)
}

fn answer(response: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    };
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .unwrap();
    Answer {
        status,
        content_type,
        retry_after,
        body,
    }
}

pub fn post(url: &str, content_type: &str, encoding: Option<&str>, body: &[u8]) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.post(url).header("content-type", content_type);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send(body).unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    };
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap();
    Answer {
        status,
        content_type,
        retry_after,
        body,
    }
}

/// The store file [`Server::start_in`] uses in `dir`.
pub fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("server.db")
}

/// Runs `agentstack keys ARGS --db DB`; returns whether it succeeded, stdout and stderr.
pub fn keys_cli(db: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_agentstack"))
        .arg("keys")
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("AGENTSTACK_DB")
        .env_remove("AGENTSTACK_CLICKHOUSE_URL")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Creates a key of `project` with the CLI; returns the key (the first line it prints).
pub fn create_key(db: &std::path::Path, project: &str) -> String {
    let (ok, out, err) = keys_cli(db, &["create", "--project", project]);
    assert!(ok, "{out}{err}");
    out.lines().next().unwrap().trim().to_string()
}

/// Any request, with extra headers; the answer whatever its status.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = match body {
        Some((content_type, body)) => {
            let request = builder
                .header("content-type", content_type)
                .body(body.to_vec())
                .unwrap();
            agent.run(request).unwrap()
        }
        None => agent.run(builder.body(()).unwrap()).unwrap(),
    };
    answer(response)
}

/// Reads lines from a child's pipe on a thread, so the test can wait with a timeout.
pub fn lines_of(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (generously) for a line containing `needle`; returns the lines seen until then.
pub fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, child: &mut Child) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return seen;
            }
        }
    }
    let _ = child.kill();
    panic!("no line with {needle:?} within 30 s; saw {seen:#?}");
}
