//! A SeaweedFS S3 server of a test's own (never the shared one of `scripts/dev-s3`), on other
//! ports and its own data directory, that the test may stop and start again. One identity
//! ([`ACCESS_KEY`], [`SECRET_KEY`]) for the clients, and anonymous requests allowed so the test
//! can create its bucket without signing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Ports unlike the shared server's (9333, 8084, 8888, 8333 and their gRPC ports +10000, 8181,
/// 9101).
const MASTER: u16 = 9633;
const VOLUME: u16 = 8186;
const FILER: u16 = 8990;
pub const S3_PORT: u16 = 8633;
pub const ACCESS_KEY: &str = "own-test-key";
pub const SECRET_KEY: &str = "own-test-secret";

/// The `weed` binary `scripts/dev-s3 up` installs (`SIDESCAN_WEED_BIN` overrides).
pub fn weed_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_WEED_BIN") {
        return PathBuf::from(bin);
    }
    let cache = std::env::var("SIDESCAN_CACHE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/sidescan")
        });
    let bin = cache.join("seaweedfs-4.48/venv/bin/weed");
    assert!(
        bin.is_file(),
        "{} not found: scripts/dev-s3 up installs it (or set SIDESCAN_WEED_BIN)",
        bin.display()
    );
    bin
}

pub struct OwnS3 {
    child: Option<Child>,
    data: tempfile::TempDir,
    pub bucket: String,
}

/// One plain HTTP request to the S3 port; the status line of the answer.
async fn http(method: &str, path: &str) -> Option<String> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{S3_PORT}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", S3_PORT)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.lines().next().map(str::to_string)
    })
    .await
    .ok()
    .flatten()
}

fn port_open() -> bool {
    TcpStream::connect(("127.0.0.1", S3_PORT)).is_ok()
}

impl OwnS3 {
    /// Starts the server with a fresh data directory and creates the bucket.
    pub async fn start() -> OwnS3 {
        let mut s3 = OwnS3 {
            child: None,
            data: tempfile::tempdir().expect("data dir"),
            bucket: "own-test".into(),
        };
        s3.launch().await;
        let path = format!("/{}", s3.bucket);
        let status = http("PUT", &path).await.unwrap_or_default();
        assert!(
            status.contains(" 200"),
            "creating bucket {}: {status}",
            s3.bucket
        );
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{S3_PORT}")
    }

    /// A client of this server's bucket, with its endpoint and credentials.
    pub fn store(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .unwrap()
    }

    async fn launch(&mut self) {
        assert!(
            !port_open(),
            "port {S3_PORT} is in use: another test server is running"
        );
        let log = std::fs::File::create(self.data.path().join("weed.log")).expect("log");
        let actions = ["Admin", "Read", "Write", "List", "Tagging"];
        let identities = serde_json::json!({"identities": [
            {"name": "anonymous", "actions": actions},
            {"name": "test", "actions": actions,
             "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]},
        ]});
        let config = self.data.path().join("s3.json");
        std::fs::create_dir_all(self.data.path().join("data")).expect("data dir");
        std::fs::write(&config, identities.to_string()).expect("s3.json");
        let child = Command::new(weed_bin())
            .arg("server")
            .arg(format!("-dir={}", self.data.path().join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={MASTER}"))
            .arg(format!("-volume.port={VOLUME}"))
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=4", "-filer"])
            .arg(format!("-filer.port={FILER}"))
            .arg("-s3")
            .arg(format!("-s3.port={S3_PORT}"))
            .arg(format!("-s3.config={}", config.display()))
            // Off: the extra listeners would take the shared server's default ports.
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("starting weed");
        self.child = Some(child);
        // The S3 gateway answers once master, volume and filer are up (a few seconds).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "own SeaweedFS exited ({status}); log: {}",
                    std::fs::read_to_string(self.data.path().join("weed.log")).unwrap_or_default()
                );
            }
            if let Some(status) = http("GET", "/").await
                && status.starts_with("HTTP/1.1 ")
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "own SeaweedFS did not answer on {S3_PORT} within 60 s; log: {}",
                std::fs::read_to_string(self.data.path().join("weed.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Kills the server (as an outage would) and waits until its S3 port is closed.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while port_open() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "port {S3_PORT} stays open"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts it again on the same data.
    pub async fn restart(&mut self) {
        self.launch().await;
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
