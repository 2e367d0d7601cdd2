//! A SeaweedFS S3 server of the test's own, for tests that must make the store unreachable: its own
//! ports, data directory, credentials and bucket, never the shared server on 8333. The storage
//! (`weed server`: master, volume, filer) and the S3 gateway (`weed s3`) are separate processes,
//! so the gateway can be stopped and started again in well under a second while the data stays.
//! Both are killed, and their sockets removed, on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGION: &str = "us-east-1";

pub struct OwnS3 {
    weed: PathBuf,
    dir: tempfile::TempDir,
    ports: Ports,
    pub bucket: String,
    pub access_key: String,
    secret_key: String,
    server: Option<Child>,
    gateway: Option<Child>,
}

#[derive(Clone, Copy)]
struct Ports {
    master: u16,
    master_grpc: u16,
    volume: u16,
    volume_grpc: u16,
    filer: u16,
    filer_grpc: u16,
    s3: u16,
    s3_grpc: u16,
}

impl Ports {
    /// Eight ports nobody listens on now (held together while picked, so all differ).
    fn free() -> Ports {
        let held: Vec<TcpListener> = (0..8)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let p: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        Ports {
            master: p[0],
            master_grpc: p[1],
            volume: p[2],
            volume_grpc: p[3],
            filer: p[4],
            filer_grpc: p[5],
            s3: p[6],
            s3_grpc: p[7],
        }
    }

    fn all(&self) -> [u16; 8] {
        [
            self.master,
            self.master_grpc,
            self.volume,
            self.volume_grpc,
            self.filer,
            self.filer_grpc,
            self.s3,
            self.s3_grpc,
        ]
    }
}

/// Random hex from the standard library's hasher seed (no extra dependency).
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())
}

impl OwnS3 {
    /// Starts storage and gateway with fresh credentials and creates `bucket`.
    pub fn start(weed: &Path, bucket: &str) -> OwnS3 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let access_key = format!("kept{}", random_hex());
        let secret_key = format!("{}{}", random_hex(), random_hex());
        let identities = serde_json::json!({"identities": [{
            "name": "sidescan-test",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]
        }]});
        std::fs::write(
            dir.path().join("s3.json"),
            serde_json::to_vec(&identities).unwrap(),
        )
        .unwrap();
        let mut s3 = OwnS3 {
            weed: weed.to_path_buf(),
            dir,
            ports: Ports::free(),
            bucket: bucket.to_string(),
            access_key,
            secret_key,
            server: None,
            gateway: None,
        };
        let p = s3.ports;
        let data = s3.dir.path().join("data");
        s3.server = Some(s3.spawn(
            "server.log",
            &[
                "server".into(),
                format!("-dir={}", data.display()),
                "-ip=127.0.0.1".into(),
                "-ip.bind=127.0.0.1".into(),
                format!("-master.port={}", p.master),
                format!("-master.port.grpc={}", p.master_grpc),
                "-master.volumeSizeLimitMB=64".into(),
                "-master.telemetry=false".into(),
                format!("-volume.port={}", p.volume),
                format!("-volume.port.grpc={}", p.volume_grpc),
                "-volume.max=4".into(),
                "-filer".into(),
                format!("-filer.port={}", p.filer),
                format!("-filer.port.grpc={}", p.filer_grpc),
            ],
        ));
        s3.start_gateway();
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/{}", s3.endpoint(), s3.bucket);
        // The filer may still be settling right after start: retry the create.
        while s3.signed("PUT", &url) != "200" {
            assert!(
                Instant::now() < deadline,
                "bucket {bucket} not created; {}",
                s3.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.s3)
    }

    /// The environment an S3 client of the project needs for this server (explicit endpoint and
    /// credentials).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// A client of this server's `bucket` (path-style, plain HTTP, no retries of its own).
    pub fn client(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region(REGION)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
            .with_bucket_name(&self.bucket)
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..Default::default()
            })
            .build()
            .unwrap()
    }

    /// Starts the S3 gateway and waits until it answers for the bucket's server.
    pub fn start_gateway(&mut self) {
        assert!(self.gateway.is_none(), "the gateway runs already");
        let p = self.ports;
        let config = self.dir.path().join("s3.json");
        self.gateway = Some(self.spawn(
            "gateway.log",
            &[
                "s3".into(),
                "-ip.bind=127.0.0.1".into(),
                format!("-port={}", p.s3),
                format!("-port.grpc={}", p.s3_grpc),
                "-port.iceberg=0".into(),
                "-port.lance=0".into(),
                format!("-filer=127.0.0.1:{}.{}", p.filer, p.filer_grpc),
                format!("-config={}", config.display()),
            ],
        ));
        let deadline = Instant::now() + Duration::from_secs(60);
        let root = format!("{}/", self.endpoint());
        while self.signed("GET", &root) != "200" {
            assert!(
                Instant::now() < deadline,
                "S3 gateway not ready; {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the S3 gateway now (SIGKILL: what a crashed or unreachable store looks like) and
    /// waits until its port refuses connections.
    pub fn stop_gateway(&mut self) {
        if let Some(mut gateway) = self.gateway.take() {
            let _ = gateway.kill();
            let _ = gateway.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.ports.s3)).is_ok() {
            assert!(Instant::now() < deadline, "S3 port still open");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(&self, log: &str, args: &[String]) -> Child {
        let log = std::fs::File::create(self.dir.path().join(log)).unwrap();
        Command::new(&self.weed)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.weed.display()))
    }

    /// The HTTP status of a SigV4-signed request (curl signs it), `000` when nothing answers.
    fn signed(&self, method: &str, url: &str) -> String {
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(["-X", method, "--aws-sigv4"])
            .arg(format!("aws:amz:{REGION}:s3"))
            .arg("--user")
            .arg(format!("{}:{}", self.access_key, self.secret_key))
            .arg(url)
            .output()
            .expect("curl (scripts/dev-s3 installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn logs(&self) -> String {
        ["server.log", "gateway.log"]
            .iter()
            .map(|name| {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(10).collect();
                format!(
                    "{name}: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for OwnS3 {
    fn drop(&mut self) {
        for child in [self.gateway.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        // SeaweedFS also listens on /tmp/seaweedfs-<part>-<port>.sock; killed, it leaves them.
        let ports = self.ports.all();
        if let Ok(entries) = std::fs::read_dir("/tmp") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = name.starts_with("seaweedfs-")
                    && ports
                        .iter()
                        .any(|port| name.ends_with(&format!("-{port}.sock")));
                if ours {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}
