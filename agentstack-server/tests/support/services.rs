//! The real services the distributed tests run on, each of its own on free loopback ports and a
//! temporary directory: `redis-server` and ClickHouse 18.16 (started by the store crate's
//! `scripts/start-test-server`). Both can be killed and started again on the same ports and data,
//! to test outages. Killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `redis-server` without persistence.
pub struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            child: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it (everything in it is gone: no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it (again) on its port.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; .ci/run installs it)");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where the throwaway ClickHouse servers keep their data: `AGENTSTACK_TEST_CLICKHOUSE_DIR`
/// if set, else memory (`/dev/shm`) where there is one, else the temporary directory. Memory,
/// like the Redis without persistence: on a disk whose ext4 has no journal (these machines'
/// root), every file ClickHouse creates (each insert's part is ~90 files) scans the inodes
/// deleted in the last minutes (the kernel's `recently_deleted`), which made inode allocation
/// the largest cost of ClickHouse in the distributed bench — a cost of the machine, not of the
/// pipeline.
fn clickhouse_parent() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTSTACK_TEST_CLICKHOUSE_DIR") {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// A ClickHouse server on a temporary data directory (see [`clickhouse_parent`]).
pub struct ClickHouse {
    pid: Option<u32>,
    http_port: u16,
    tcp_port: u16,
    dir: tempfile::TempDir,
}

fn start_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agentstack-store-clickhouse/scripts/start-test-server")
}

impl ClickHouse {
    pub fn start() -> ClickHouse {
        let mut clickhouse = ClickHouse {
            pid: None,
            http_port: free_port(),
            tcp_port: free_port(),
            dir: tempfile::tempdir_in(clickhouse_parent()).unwrap(),
        };
        clickhouse.restart();
        clickhouse
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Kills it with SIGKILL; its data stays for [`restart`](Self::restart).
    pub fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts it (again) on its ports and data, and waits until it answers queries.
    pub fn restart(&mut self) {
        self.kill();
        let out = Command::new(start_script())
            .arg(self.dir.path())
            .arg(self.http_port.to_string())
            .arg(self.tcp_port.to_string())
            .output()
            .expect("cannot run start-test-server");
        assert!(
            out.status.success(),
            "start-test-server failed (apt-get install clickhouse-server; .ci/run installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = Some(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        let ping = format!("{}/?query=SELECT%201", self.url());
        loop {
            let answered = ureq::get(&ping).call().is_ok();
            if answered {
                return;
            }
            assert!(Instant::now() < deadline, "ClickHouse did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        self.kill();
    }
}
